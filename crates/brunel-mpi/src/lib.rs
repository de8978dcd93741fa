//! brunel-mpi: the MPI backend (rsmpi over Open MPI), bit-identical to the reference for any
//! number of ranks and threads.
//!
//! Design:
//! - **One contiguous range of neurons per rank**, aligned to the cpu engine's blocks of 32
//!   neurons (`ranges`): each rank runs the cpu engine ([`brunel_cpu::RankEngine`]) on its
//!   range with its own threads, holding only the synapses onto its neurons.
//! - **One exchange per delay.** A spike at step k arrives at k + D, so the ranks advance a
//!   whole batch of (up to) D steps between two exchanges, as the cpu engine's threads do and
//!   as NEST does with its minimum delay. Each exchange is one `MPI_Allgatherv` of the batch's
//!   spikes (per step: the count, then the ids), preceded by an `MPI_Allgather` of the
//!   message sizes. Every rank then holds every spike: it delivers those onto its own
//!   neurons, and it hands all of them, step by step and ascending, to the recorder: rank 0
//!   records and writes the one result file, the others write nothing (see the CLI). In
//!   Brunel's network every source has targets on nearly every rank (each neuron receives
//!   from 10 % of the network), so sending each rank only "its" spikes (`Alltoallv`) would
//!   send nearly the same ids; see docs/large-networks.md.
//! - **Bits.** No neuron's arithmetic depends on its range: the external input is drawn per
//!   block of 32 global ids and step, the counters are integers (arrival order does not
//!   matter), so K ranks × T threads give the reference's spikes for every K and T.
//! - **Failure.** `session` holds MPI's state: the CLI starts it before anything else and,
//!   on an error on any rank, calls `abort`, which ends the whole job (`MPI_Abort`).
//!   `agree` compares a hash of what must be the same on every rank (the resolved config,
//!   the model) and names the ranks that differ.
//!
//! Everything here needs the cargo feature `mpi` (Open MPI's headers and libclang to build);
//! without it the crate is empty, so that `cargo build --workspace` works where MPI is not
//! installed.

#![warn(missing_docs)]

#[cfg(feature = "mpi")]
mod backend;

#[cfg(feature = "mpi")]
pub use backend::*;
