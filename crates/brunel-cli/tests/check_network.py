"""Reads a `brunel network` folder with libsonata and checks it against rows the test drew in
memory: python3 check_network.py NETDIR EXPECTED.txt

EXPECTED.txt: first line `n n_e n_synapses`, then lines `edge_id source target`, then lines
`source first_edge end_edge` prefixed with `row`."""

import sys

import h5py
import libsonata
import numpy as np

netdir, expected = sys.argv[1], sys.argv[2]
lines = open(expected).read().split("\n")
n, n_e, m = (int(x) for x in lines[0].split())
edges = sorted({tuple(int(x) for x in l.split()) for l in lines[1:] if l and not l.startswith("row")})
rows = [tuple(int(x) for x in l.split()[1:]) for l in lines[1:] if l.startswith("row")]

storage = libsonata.EdgeStorage(f"{netdir}/edges.h5")
assert storage.population_names == {"brunel"}, storage.population_names
pop = storage.open_population("brunel")
assert pop.size == m, (pop.size, m)
assert pop.source == "brunel" and pop.target == "brunel", (pop.source, pop.target)
ids = [e[0] for e in edges]
sel = libsonata.Selection(ids)
src = pop.source_nodes(sel)
tgt = pop.target_nodes(sel)
# A selection is read in ascending edge order; the sample is sorted and unique.
assert len(src) == len(edges), (len(src), len(edges))
for k, (e, s, t) in enumerate(edges):
    assert (src[k], tgt[k]) == (s, t), (e, src[k], tgt[k], s, t)
for s, first, end in rows:
    got = pop.efferent_edges([s]).flatten()
    assert list(got) == list(range(first, end)), (s, got[:5], first, end)
nodes = libsonata.NodeStorage(f"{netdir}/nodes.h5").open_population("brunel")
assert nodes.size == n, (nodes.size, n)
with h5py.File(f"{netdir}/nodes.h5") as f:
    t = f["nodes/brunel/node_type_id"][()]
    assert (t[:n_e] == 0).all() and (t[n_e:] == 1).all()
with h5py.File(f"{netdir}/edges.h5") as f:
    et = f["edges/brunel/edge_type_id"][()]
    s_all = f["edges/brunel/source_node_id"][()]
    assert ((et == 1) == (s_all >= n_e)).all()
print(f"libsonata read {m} edges of {n} nodes; {len(edges)} sampled edges and {len(rows)} rows match")
