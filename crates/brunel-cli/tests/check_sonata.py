"""Checks a brunel result file with libsonata and h5py (run by tests/sonata.rs).

usage: python3 check_sonata.py FILE.h5 N_RECORDED_NEURONS
Prints OK on success; any failed check raises (non-zero exit, message on stderr).
"""
import sys

import h5py
import libsonata
import numpy as np

path, recorded = sys.argv[1], int(sys.argv[2])

# libsonata: the SONATA spike report.
reader = libsonata.SpikeReader(path)
assert reader.get_population_names() == ["brunel"], reader.get_population_names()
pop = reader["brunel"]
assert str(pop.sorting) in ("by_time", "Sorting.by_time"), pop.sorting
spikes = pop.get()
assert len(spikes) > 0, "no spikes"

with h5py.File(path, "r") as f:
    # SONATA root attributes.
    assert f.attrs["magic"] == 0x0A7A and f.attrs["magic"].dtype == np.uint32, f.attrs["magic"]
    version = f.attrs["version"]
    assert list(version) == [0, 1] and version.dtype == np.uint32, version

    group = f["spikes/brunel"]
    sorting = group.attrs.get_id("sorting")
    mapping = h5py.check_enum_dtype(sorting.dtype)
    assert mapping == {"none": 0, "by_id": 1, "by_time": 2}, mapping
    assert group.attrs["sorting"] == 2

    ts = group["timestamps"]
    ids = group["node_ids"]
    assert ts.dtype == np.float64 and ids.dtype == np.uint64, (ts.dtype, ids.dtype)
    assert ts.attrs["units"] == "ms", ts.attrs["units"]
    t, i = ts[:], ids[:]
    assert np.all(np.diff(t) >= 0), "timestamps are not sorted by time"

    # libsonata and the raw datasets agree, spike for spike.
    assert len(spikes) == len(t), (len(spikes), len(t))
    assert [int(n) for n, _ in spikes] == [int(n) for n in i]
    assert np.array_equal(np.array([s for _, s in spikes]), t)
    node_ids, timestamps = pop.get_dict()["node_ids"], pop.get_dict()["timestamps"]
    assert np.array_equal(node_ids, i) and np.array_equal(timestamps, t)

    # Provenance.
    for key in ["brunel_version", "backend", "device", "threads", "seed", "config",
                "n_synapses", "build_seconds", "run_seconds", "created"]:
        assert key in f.attrs, f"root attribute {key} is missing"
    for key in ["brunel_version", "backend", "device", "config", "created"]:
        assert isinstance(f.attrs[key], str), (key, type(f.attrs[key]))
    assert f.attrs["created"].endswith("Z") and "T" in f.attrs["created"], f.attrs["created"]
    assert "[simulation]" in f.attrs["config"]
    n = int(f.attrs["n_neurons"])
    dt = float(f.attrs["dt"])

    # The population rate: one value per step, and it counts the same spikes.
    rate = f["population_rate/rate"]
    # Streamed in chunks; the ids compressed with HDF5's built-in scale-offset filter (which
    # every HDF5 build has: libsonata's wheel has no deflate).
    for ds in (ts, ids, rate):
        assert ds.chunks is not None, (ds.name, ds.chunks)
    assert ids.scaleoffset is not None, ids.scaleoffset
    assert rate.attrs["dt"] == dt and rate.attrs["start"] == 0.0
    assert len(rate) == int(f.attrs["steps"]), (len(rate), f.attrs["steps"])
    counts = np.rint(rate[:] * n * dt / 1000.0).astype(np.int64)
    assert counts.sum() == int(f.attrs["spikes"]), (counts.sum(), f.attrs["spikes"])
    if recorded >= n:
        # Every spike was recorded: the spikes of each step are the rate's count.
        steps = np.rint(t / dt).astype(np.int64)
        per_step = np.bincount(steps, minlength=len(counts))
        assert np.array_equal(per_step, counts), "recorded spikes disagree with the rate"
    else:
        assert np.all(i < recorded), "a spike of a neuron that is not recorded"

print("OK", len(spikes), "spikes")
