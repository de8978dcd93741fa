//! `brunel network CONFIG --out NETDIR`: the network of a config in SONATA's circuit format,
//! for NEST (which reads SONATA), libsonata, or analysis:
//!
//! ```text
//! NETDIR/nodes.h5            /nodes/brunel/{node_type_id, node_group_id, node_group_index},
//!                            /nodes/brunel/0 (the one node group, no per-node attributes)
//! NETDIR/edges.h5            /edges/brunel/{source_node_id, target_node_id} (attribute
//!                            node_population = "brunel"), edge_type_id, edge_group_id,
//!                            edge_group_index, /edges/brunel/0 (no per-edge attributes:
//!                            weight and delay are per edge type), and the index
//!                            /edges/brunel/indices/source_to_target/{node_id_to_ranges,
//!                            range_to_edge_id}; edges are sorted by source, then target
//! NETDIR/node_types.csv      node_type_id 0 = excitatory, 1 = inhibitory, with the neuron's
//!                            parameters (space-separated, as SONATA's CSVs are)
//! NETDIR/edge_types.csv      edge_type_id 0 = from an excitatory neuron (syn_weight = J mV),
//!                            1 = from an inhibitory one (−g·J), delay D ms
//! NETDIR/circuit_config.json the manifest naming the four files
//! ```
//!
//! The folder is written beside its target under a temporary name and renamed when complete.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use brunel_core::{Config, Network, Par};

use crate::output::attr_str;

/// The population name of nodes and edges.
const POPULATION: &str = "brunel";

/// The options of `brunel network`.
#[derive(Debug, clap::Args)]
pub struct NetworkArgs {
    /// The config whose network is written (drawn from its seed, as `brunel run` draws it).
    pub config: PathBuf,
    /// The folder to write (created; it must not exist, unless --force).
    #[arg(long, short, value_name = "NETDIR")]
    pub out: PathBuf,
    /// Overrides any config key (as `brunel run --set`); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Overrides simulation.seed.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Threads of the network build; 0 = all cores.
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = crate::run::parse_threads, allow_negative_numbers = true)]
    pub threads: usize,
    /// Replace an existing folder written by this command (and no other folder); the folder
    /// appears only once it is complete.
    #[arg(long)]
    pub force: bool,
    /// No summary on stdout.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Writes the network of a config as a SONATA circuit folder.
pub fn network(args: &NetworkArgs) -> Result<()> {
    let mut overrides = args.set.clone();
    if let Some(seed) = args.seed {
        overrides.push(format!("simulation.seed={seed}"));
    }
    let config = Config::from_file_with(&args.config, &overrides)?;
    let par = Par::threads(crate::run::cap_threads(args.threads, "--threads"));
    // The network and the buffers it is written through must fit before any is allocated.
    let plan = brunel_core::memory::plan_network_file(&config, par.count() as u64);
    plan.check(&brunel_core::memory::Limit::here())
        .map_err(|e| anyhow::anyhow!("{e}\n{}", plan.describe()))?;
    let out = &args.out;
    let replacing = check_target(out, args.force)?;
    // Its folder is writable, and the temporary folders of a write that was killed go.
    let _claim = crate::files::probe(out)?;
    let t = Instant::now();
    // Nothing of this command is on disk yet: a signal during the draw ends it at once.
    let at_once = crate::interrupt::AtOnce::begin()?;
    crate::interrupt::test_point("drawing");
    let net = Network::try_build(&config, par)?;
    drop(at_once);
    let build_seconds = t.elapsed().as_secs_f64();
    let tmp = crate::files::Temp::folder_beside(out)?;
    let write = || -> Result<()> {
        std::fs::write(
            tmp.path().join(MARKER),
            format!("brunel network {}\n", env!("CARGO_PKG_VERSION")),
        )?;
        write_nodes(&tmp.path().join("nodes.h5"), &net)?;
        write_edges(&tmp.path().join("edges.h5"), &net)?;
        write_types(tmp.path(), &config, net.n_synapses())
    };
    write()
        .with_context(|| format!("cannot write {}", out.display()))
        .map_err(|e| crate::files::explain(out, e))?;
    for name in ["nodes.h5", "edges.h5"] {
        crate::files::check_hdf5(out, &tmp.path().join(name), |_| Ok(()))?;
    }
    // Replace the old folder only once the new one is complete, and only if it still holds
    // nothing but what `brunel network` writes.
    if replacing && check_target(out, args.force)? {
        tmp.commit_over_folder(&WRITTEN)?;
    } else {
        tmp.commit(crate::files::Replace::IfForced(false))?;
    }
    if !args.quiet {
        say!(
            "network {}: {} neurons ({} excitatory), {} synapses, drawn in {build_seconds:.2} s",
            out.display(),
            net.n,
            net.n_e,
            crate::info::count(net.n_synapses())
        );
    }
    Ok(())
}

/// The file `brunel network` puts in every folder it writes, with its version: the one sign
/// that `--force` may replace the folder.
const MARKER: &str = ".brunel-network";

/// Every file `brunel network` writes into its folder.
const WRITTEN: [&str; 6] = [
    MARKER,
    "nodes.h5",
    "edges.h5",
    "node_types.csv",
    "edge_types.csv",
    "circuit_config.json",
];

/// Checks the network folder `out`: `true` when it exists and may be replaced (with `force`,
/// a folder `brunel network` wrote, holding nothing else), `false` when it does not exist;
/// refused otherwise.
fn check_target(out: &Path, force: bool) -> Result<bool> {
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("cannot examine {}", out.display())),
    };
    if !meta.is_dir() {
        bail!(
            "{} exists and is not a folder ({})",
            out.display(),
            crate::files::kind(meta.file_type())
        );
    }
    if !force {
        bail!(
            "{} already exists; use --force to replace it",
            out.display()
        );
    }
    if !std::fs::symlink_metadata(out.join(MARKER)).is_ok_and(|m| m.is_file()) {
        bail!(
            "{} is not a network folder written by `brunel network` (no {MARKER} in it): not replaced",
            out.display()
        );
    }
    let mut foreign = Vec::new();
    for entry in std::fs::read_dir(out).with_context(|| format!("cannot read {}", out.display()))? {
        let entry = entry.with_context(|| format!("cannot read {}", out.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let regular = entry.file_type().is_ok_and(|t| t.is_file());
        if !(regular && WRITTEN.contains(&name.as_str())) {
            foreign.push(name);
        }
    }
    if !foreign.is_empty() {
        foreign.sort();
        bail!(
            "{} holds files `brunel network` did not write ({}): not replaced, so that nothing of yours is deleted; move them elsewhere or choose another --out",
            out.display(),
            foreign.join(", ")
        );
    }
    Ok(true)
}

/// Writes the dataset `name` of `len` values into `group`, a buffer of
/// [`brunel_core::memory::WRITE_BUFFER_BYTES`] at a time (`fill` appends the values of a range
/// of indices to the buffer), stopping between buffers when a signal came: a network's
/// columns are gigabytes, and neither held whole in memory nor written without a look at the
/// flag.
fn write_column<T: hdf5::H5Type + Copy>(
    group: &hdf5::Group,
    name: &str,
    len: usize,
    mut fill: impl FnMut(std::ops::Range<usize>, &mut Vec<T>),
) -> Result<hdf5::Dataset> {
    let ds = group.new_dataset::<T>().shape(len).create(name)?;
    let per = (brunel_core::memory::WRITE_BUFFER_BYTES as usize / std::mem::size_of::<T>()).max(1);
    let mut buf = Vec::with_capacity(per.min(len));
    let mut at = 0;
    while at < len {
        crate::interrupt::check()?;
        let end = (at + per).min(len);
        buf.clear();
        fill(at..end, &mut buf);
        ds.write_slice(buf.as_slice(), at..end)?;
        at = end;
    }
    Ok(ds)
}

fn write_nodes(path: &Path, net: &Network) -> Result<()> {
    let file = hdf5::File::create(path)?;
    let pop = file.create_group("nodes")?.create_group(POPULATION)?;
    let n = net.n as usize;
    let n_e = net.n_e as usize;
    write_column(&pop, "node_type_id", n, |range, buf: &mut Vec<i64>| {
        buf.extend(range.map(|i| i64::from(i >= n_e)));
    })?;
    write_column(&pop, "node_group_id", n, |range, buf: &mut Vec<i64>| {
        buf.extend(range.map(|_| 0));
    })?;
    write_column(&pop, "node_group_index", n, |range, buf: &mut Vec<i64>| {
        buf.extend(range.map(|i| i as i64));
    })?;
    pop.create_group("0")?;
    drop(pop);
    crate::files::close_hdf5(file)
}

fn write_edges(path: &Path, net: &Network) -> Result<()> {
    let file = hdf5::File::create(path)?;
    let pop = file.create_group("edges")?.create_group(POPULATION)?;
    let m = net.targets.len();
    // The source of each edge, found by walking the row starts along with the edges.
    let source_of = || {
        let mut s = 0usize;
        move |edge: usize| {
            while net.offsets[s + 1] as usize <= edge {
                s += 1;
            }
            s
        }
    };
    let mut source = source_of();
    let src = write_column(&pop, "source_node_id", m, |range, buf: &mut Vec<u64>| {
        buf.extend(range.map(|e| source(e) as u64));
    })?;
    attr_str(&src, "node_population", POPULATION)?;
    let tgt = write_column(&pop, "target_node_id", m, |range, buf: &mut Vec<u64>| {
        buf.extend(net.targets[range].iter().map(|&t| t as u64));
    })?;
    attr_str(&tgt, "node_population", POPULATION)?;
    // Halfway through the edges: where the signal tests stop a write.
    crate::interrupt::test_point("writing");
    crate::interrupt::check()?;
    let mut source = source_of();
    let n_e = net.n_e as usize;
    write_column(&pop, "edge_type_id", m, |range, buf: &mut Vec<i64>| {
        buf.extend(range.map(|e| i64::from(source(e) >= n_e)));
    })?;
    write_column(&pop, "edge_group_id", m, |range, buf: &mut Vec<i64>| {
        buf.extend(range.map(|_| 0));
    })?;
    write_column(&pop, "edge_group_index", m, |range, buf: &mut Vec<i64>| {
        buf.extend(range.map(|e| e as i64));
    })?;
    pop.create_group("0")?;
    // Edges are sorted by source: each source's edges are one range.
    let mut node_to_ranges: Vec<u64> = Vec::with_capacity(2 * net.n as usize);
    let mut range_to_edge: Vec<u64> = Vec::new();
    for s in 0..net.n as usize {
        let (a, b) = (net.offsets[s], net.offsets[s + 1]);
        if a == b {
            node_to_ranges.extend([0, 0]);
        } else {
            let r = (range_to_edge.len() / 2) as u64;
            node_to_ranges.extend([r, r + 1]);
            range_to_edge.extend([a, b]);
        }
    }
    let index = pop
        .create_group("indices")?
        .create_group("source_to_target")?;
    let nr = ndarray::Array2::from_shape_vec((net.n as usize, 2), node_to_ranges)?;
    index
        .new_dataset_builder()
        .with_data(&nr)
        .create("node_id_to_ranges")?;
    let re = ndarray::Array2::from_shape_vec((range_to_edge.len() / 2, 2), range_to_edge)?;
    index
        .new_dataset_builder()
        .with_data(&re)
        .create("range_to_edge_id")?;
    drop((src, tgt, index, pop));
    crate::files::close_hdf5(file)
}

fn write_types(dir: &Path, c: &Config, n_synapses: u64) -> Result<()> {
    let n = &c.neuron;
    let rule = match n.refractory_input {
        brunel_core::RefractoryInput::Discard => "discard",
        brunel_core::RefractoryInput::Accumulate => "accumulate",
    };
    let node_types = format!(
        "node_type_id pop_name ei model_type model_template tau_m V_th V_reset t_ref V_init refractory_input\n\
         0 E e point_process nest:iaf_psc_delta {} {} {} {} {} {}\n\
         1 I i point_process nest:iaf_psc_delta {} {} {} {} {} {}\n",
        n.tau, n.theta, n.v_reset, n.tau_rp, n.v_init, rule,
        n.tau, n.theta, n.v_reset, n.tau_rp, n.v_init, rule,
    );
    let j = c.synapse.j;
    let edge_types = format!(
        "edge_type_id source_ei syn_weight delay model_template\n\
         0 e {} {} static_synapse\n\
         1 i {} {} static_synapse\n",
        j,
        c.synapse.delay,
        -c.synapse.g * j,
        c.synapse.delay
    );
    let manifest = format!(
        "{{\n  \"manifest\": {{ \"$NETWORK_DIR\": \".\" }},\n  \"networks\": {{\n    \"nodes\": [{{ \"nodes_file\": \"$NETWORK_DIR/nodes.h5\", \"node_types_file\": \"$NETWORK_DIR/node_types.csv\" }}],\n    \"edges\": [{{ \"edges_file\": \"$NETWORK_DIR/edges.h5\", \"edge_types_file\": \"$NETWORK_DIR/edge_types.csv\" }}]\n  }},\n  \"components\": {{}},\n  \"brunel\": {{ \"version\": \"{}\", \"seed\": \"{}\", \"n_synapses\": {} }}\n}}\n",
        env!("CARGO_PKG_VERSION"),
        c.simulation.seed,
        n_synapses
    );
    std::fs::write(dir.join("node_types.csv"), node_types)?;
    std::fs::write(dir.join("edge_types.csv"), edge_types)?;
    std::fs::write(dir.join("circuit_config.json"), manifest)?;
    Ok(())
}
