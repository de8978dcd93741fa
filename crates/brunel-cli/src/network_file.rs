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

use crate::output::{attr_str, parent_dir};

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
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Threads of the network build; 0 = all cores.
    #[arg(long, default_value_t = 0, value_name = "N")]
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
    let out = &args.out;
    if let Ok(meta) = std::fs::symlink_metadata(out) {
        if !meta.is_dir() {
            bail!("{} exists and is not a folder", out.display());
        }
        if !args.force {
            bail!(
                "{} already exists; use --force to replace it",
                out.display()
            );
        }
        if !out.join("circuit_config.json").is_file() {
            bail!(
                "{} is not a network folder written by `brunel network` (no circuit_config.json): not replaced",
                out.display()
            );
        }
    }
    let parent = parent_dir(out);
    if !parent.is_dir() {
        bail!(
            "cannot write {}: the folder {} does not exist",
            out.display(),
            parent.display()
        );
    }
    let t = Instant::now();
    let net = Network::build(&config, Par::threads(args.threads));
    let build_seconds = t.elapsed().as_secs_f64();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            out.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ))
        .suffix(".tmp")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot write {}", out.display()))?;
    write_nodes(&tmp.path().join("nodes.h5"), &net)?;
    write_edges(&tmp.path().join("edges.h5"), &net)?;
    write_types(tmp.path(), &config, net.n_synapses())?;
    // Replace the old folder only once the new one is complete.
    let dir = tmp.keep();
    if out.exists() {
        std::fs::remove_dir_all(out)
            .with_context(|| format!("cannot replace {}", out.display()))?;
    }
    std::fs::rename(&dir, out).with_context(|| format!("cannot write {}", out.display()))?;
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

fn write_nodes(path: &Path, net: &Network) -> Result<()> {
    let file = hdf5::File::create(path)?;
    let pop = file.create_group("nodes")?.create_group(POPULATION)?;
    let n = net.n as usize;
    let types: Vec<i64> = (0..net.n).map(|i| i64::from(i >= net.n_e)).collect();
    pop.new_dataset_builder()
        .with_data(types.as_slice())
        .create("node_type_id")?;
    pop.new_dataset_builder()
        .with_data(vec![0i64; n].as_slice())
        .create("node_group_id")?;
    let index: Vec<i64> = (0..n as i64).collect();
    pop.new_dataset_builder()
        .with_data(index.as_slice())
        .create("node_group_index")?;
    pop.create_group("0")?;
    file.close()?;
    Ok(())
}

fn write_edges(path: &Path, net: &Network) -> Result<()> {
    let file = hdf5::File::create(path)?;
    let pop = file.create_group("edges")?.create_group(POPULATION)?;
    let m = net.targets.len();
    let mut sources = Vec::with_capacity(m);
    for s in 0..net.n {
        sources.extend(std::iter::repeat_n(s as u64, net.row(s).len()));
    }
    let src = pop
        .new_dataset_builder()
        .with_data(sources.as_slice())
        .create("source_node_id")?;
    attr_str(&src, "node_population", POPULATION)?;
    drop(sources);
    let targets: Vec<u64> = net.targets.iter().map(|&t| t as u64).collect();
    let tgt = pop
        .new_dataset_builder()
        .with_data(targets.as_slice())
        .create("target_node_id")?;
    attr_str(&tgt, "node_population", POPULATION)?;
    drop(targets);
    let types: Vec<i64> = (0..net.n)
        .flat_map(|s| std::iter::repeat_n(i64::from(s >= net.n_e), net.row(s).len()))
        .collect();
    pop.new_dataset_builder()
        .with_data(types.as_slice())
        .create("edge_type_id")?;
    drop(types);
    pop.new_dataset_builder()
        .with_data(vec![0i64; m].as_slice())
        .create("edge_group_id")?;
    let index: Vec<i64> = (0..m as i64).collect();
    pop.new_dataset_builder()
        .with_data(index.as_slice())
        .create("edge_group_index")?;
    drop(index);
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
    file.close()?;
    Ok(())
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
