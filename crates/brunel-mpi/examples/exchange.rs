//! Time per spike exchange vs message size, for docs/large-networks.md:
//! `mpirun -np K target/release/examples/exchange` (built with `--features mpi`).
//!
//! For each message size (u32 ids per rank and exchange) it times, over many repetitions:
//! - `allgatherv`: what the backend does: an `MPI_Allgather` of the sizes, then one
//!   `MPI_Allgatherv` of the ids;
//! - `allgather`: one `MPI_Allgather` of a buffer padded to a fixed size (no size exchange,
//!   but every rank sends the largest message);
//! - `alltoallv`: each rank sends its ids to every other rank separately (what sending each
//!   rank only "the ids it needs" costs when, as in Brunel's network, it needs nearly all).

#[cfg(feature = "mpi")]
fn main() {
    use mpi::datatype::{Partition, PartitionMut};
    use mpi::traits::*;
    use mpi::Count;
    use std::time::Instant;

    let universe = mpi::initialize().expect("MPI_Init");
    let world = universe.world();
    let (rank, size) = (world.rank(), world.size() as usize);
    if rank == 0 {
        println!("ranks {size}");
        println!(
            "{:>10} {:>14} {:>14} {:>14}",
            "ids/rank", "allgatherv_us", "allgather_us", "alltoallv_us"
        );
    }
    for &n in &[0usize, 10, 100, 1_000, 10_000, 100_000, 1_000_000] {
        let reps = (2_000_000 / (n + 1000)).clamp(5, 2000);
        let send: Vec<u32> = (0..n as u32).collect();
        let mut recv = vec![0u32; n * size];
        let time = |f: &mut dyn FnMut()| {
            world.barrier();
            for _ in 0..3 {
                f();
            }
            world.barrier();
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            let local = t.elapsed().as_secs_f64() / reps as f64;
            let mut max = 0.0f64;
            world.all_reduce_into(&local, &mut max, mpi::collective::SystemOperation::max());
            max * 1e6
        };
        let a = time(&mut || {
            let mine = send.len() as Count;
            let mut counts = vec![0 as Count; size];
            world.all_gather_into(&mine, &mut counts[..]);
            let displs: Vec<Count> = counts
                .iter()
                .scan(0, |acc, &c| {
                    let d = *acc;
                    *acc += c;
                    Some(d)
                })
                .collect();
            let mut p = PartitionMut::new(&mut recv[..], &counts[..], &displs[..]);
            world.all_gather_varcount_into(&send[..], &mut p);
        });
        let b = time(&mut || {
            world.all_gather_into(&send[..], &mut recv[..]);
        });
        let c = time(&mut || {
            let counts = vec![n as Count; size];
            let displs: Vec<Count> = (0..size).map(|r| (r * n) as Count).collect();
            let all: Vec<u32> = (0..size).flat_map(|_| send.iter().copied()).collect();
            let sp = Partition::new(&all[..], &counts[..], &displs[..]);
            let mut rp = PartitionMut::new(&mut recv[..], &counts[..], &displs[..]);
            world.all_to_all_varcount_into(&sp, &mut rp);
        });
        if rank == 0 {
            println!("{n:>10} {a:>14.2} {b:>14.2} {c:>14.2}");
        }
    }
}

#[cfg(not(feature = "mpi"))]
fn main() {
    eprintln!("build with --features mpi");
    std::process::exit(1);
}
