#pragma OPENCL FP_CONTRACT OFF
#pragma OPENCL EXTENSION cl_khr_fp64 : enable

// The Brunel (2000) time step of brunel_core::ReferenceBackend, bit for bit.
//
// - `advance_*` run `batch` (<= delay) consecutive steps of every neuron from arrivals that are
//   already in the ring (spikes of steps < k0 have all been propagated), write a flag per
//   (step, neuron) for the host (flags[b * n + i], so the host reads ids in ascending order),
//   and append every spike to one list as ((step - k0) << 32 | neuron) for `propagate`.
// - `propagate` delivers the spikes of that list into the ring: one work-group per spike,
//   integer atomics, so the counts do not depend on the order of work-items (GPUs);
//   `propagate_owned` does the same with each target counter owned by one work-item (CPUs).
//
// Floating point: only *, + and >, in Model::input's order; FP_CONTRACT OFF forbids fusing
// a*b+c into an fma. Counts are converted exactly (uint -> double).

// Philox4x32-10 and NEVER: PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1, STREAM_EXTERNAL and
// NEVER are defined by the header that the backend generates from brunel_core
// (brunel_core::rng::opencl_header) and puts after the two pragmas above.

uint4 philox4x32_10(uint4 ctr, uint2 key) {
    // Round r uses the key bumped r times; the bump after the last round is unused.
#pragma unroll
    for (int r = 0; r < 10; r++) {
        // 32 x 32 -> 64-bit products (PoCL's mul_hi is emulated with 16-bit pieces).
        ulong p0 = (ulong)PHILOX_M0 * (ulong)ctr.x;
        ulong p1 = (ulong)PHILOX_M1 * (ulong)ctr.z;
        ctr = (uint4)((uint)(p1 >> 32) ^ ctr.y ^ key.x, (uint)p1,
                      (uint)(p0 >> 32) ^ ctr.w ^ key.y, (uint)p0);
        key.x += PHILOX_W0;
        key.y += PHILOX_W1;
    }
    return ctr;
}

// The uniforms of neurons 4*block .. 4*block+3 at `step` (rng::external_block).
uint4 external_block(uint2 key, uint block, ulong step) {
    return philox4x32_10((uint4)(block, (uint)step, (uint)(step >> 32), STREAM_EXTERNAL), key);
}

// Binomial sample: the number of thresholds <= u (BinomialTable::thresholds_u32, ascending).
// Counted over the whole table (about 20 entries for Brunel's parameters) without an early
// exit: no unpredictable branch on CPUs, no divergence on GPUs.
uint binomial_sample(__global const uint *thresholds, uint n_thresholds, uint u) {
    uint x = 0;
    for (uint k = 0; k < n_thresholds; k++) {
        x += thresholds[k] <= u ? 1u : 0u;
    }
    return x;
}

// Constants of the step (brunel_core::Model), passed as kernel arguments.
typedef struct {
    double decay;
    double theta;
    double v_reset;
    double j_exc;
    double j_inh;
    long ref_steps;
    int accumulate;
} params_t;

// One step of neuron i: ReferenceBackend::advance, steps 1-5. Returns whether it spiked.
int neuron_step(uint i, uint n, ulong k, uint slot, uint u, double *v, long *last,
                __global uint *arr_exc, __global uint *arr_inh,
                __global const uint *thresholds, uint n_thresholds, const params_t *p) {
    // 1. Refractoriness.
    int not_refractory = (*last == NEVER) || ((long)k - *last >= p->ref_steps);
    // 2. State update.
    double vv = *v;
    if (not_refractory) {
        vv = vv * p->decay;
    }
    // 3. Threshold, strict.
    int spiked = not_refractory && (vv > p->theta);
    if (spiked) {
        *last = (long)k;
        not_refractory = 0;
    }
    // 4. Synapses: arrivals of this step are taken out of the ring whether used or not.
    ulong at = (ulong)slot * n + i;
    uint n_exc = arr_exc[at];
    uint n_inh = arr_inh[at];
    arr_exc[at] = 0;
    arr_inh[at] = 0;
    if (p->accumulate || not_refractory) {
        uint x = binomial_sample(thresholds, n_thresholds, u);
        double in_exc = p->j_exc * ((double)x + (double)n_exc);
        double in_inh = p->j_inh * (double)n_inh;
        vv = vv + (in_exc + in_inh);
    }
    // 5. Reset.
    if (spiked) {
        vv = p->v_reset;
    }
    *v = vv;
    return spiked;
}

void push_spike(__global uint *spike_count, __global ulong *spike_list, uint b, uint i) {
    uint at = atomic_inc(spike_count);
    spike_list[at] = ((ulong)b << 32) | (ulong)i;
}

void record_spike(int spiked, __global uchar *flags, __global uint *spike_count,
                  __global ulong *spike_list, uint n, uint b, uint i) {
    flags[(ulong)b * n + i] = (uchar)spiked;
    if (spiked) {
        push_spike(spike_count, spike_list, b, i);
    }
}

// One work-item per neuron (GPUs): each draws its Philox block and keeps its own lane.
__kernel void advance_neurons(
    __global double *v, __global long *last_spike,
    __global uint *arr_exc, __global uint *arr_inh,
    __global const uint *thresholds, uint n_thresholds,
    __global uint *spike_count, __global ulong *spike_list, __global uchar *flags,
    uint n, uint delay, ulong k0, uint batch,
    double decay, double theta, double v_reset, double j_exc, double j_inh,
    uint ref_steps, uint accumulate, uint key0, uint key1) {
    uint i = get_global_id(0);
    if (i >= n) {
        return;
    }
    params_t p = {decay, theta, v_reset, j_exc, j_inh, (long)ref_steps, (int)accumulate};
    uint2 key = (uint2)(key0, key1);
    double vv = v[i];
    long last = last_spike[i];
    uint slot = (uint)(k0 % delay);
    for (uint b = 0; b < batch; b++, slot = (slot + 1 == delay) ? 0 : slot + 1) {
        ulong k = k0 + b;
        uint4 r = external_block(key, i / 4, k);
        uint lane = i % 4;
        uint u = lane == 0 ? r.x : lane == 1 ? r.y : lane == 2 ? r.z : r.w;
        int spiked = neuron_step(i, n, k, slot, u, &vv, &last, arr_exc, arr_inh, thresholds,
                                 n_thresholds, &p);
        record_spike(spiked, flags, spike_count, spike_list, n, b, i);
    }
    v[i] = vv;
    last_spike[i] = last;
}

// One work-item per block of four neurons (CPUs): one Philox call serves all four.
__kernel void advance_blocks(
    __global double *v, __global long *last_spike,
    __global uint *arr_exc, __global uint *arr_inh,
    __global const uint *thresholds, uint n_thresholds,
    __global uint *spike_count, __global ulong *spike_list, __global uchar *flags,
    uint n, uint delay, ulong k0, uint batch,
    double decay, double theta, double v_reset, double j_exc, double j_inh,
    uint ref_steps, uint accumulate, uint key0, uint key1) {
    uint block = get_global_id(0);
    uint first = block * 4;
    if (first >= n) {
        return;
    }
    uint lanes = min(4u, n - first);
    params_t p = {decay, theta, v_reset, j_exc, j_inh, (long)ref_steps, (int)accumulate};
    uint2 key = (uint2)(key0, key1);
    double vv[4];
    long last[4];
    for (uint l = 0; l < lanes; l++) {
        vv[l] = v[first + l];
        last[l] = last_spike[first + l];
    }
    uint slot = (uint)(k0 % delay);
    for (uint b = 0; b < batch; b++, slot = (slot + 1 == delay) ? 0 : slot + 1) {
        ulong k = k0 + b;
        uint4 r = external_block(key, block, k);
        uint us[4] = {r.x, r.y, r.z, r.w};
        for (uint l = 0; l < lanes; l++) {
            int spiked = neuron_step(first + l, n, k, slot, us[l], &vv[l], &last[l], arr_exc,
                                     arr_inh, thresholds, n_thresholds, &p);
            record_spike(spiked, flags, spike_count, spike_list, n, b, first + l);
        }
    }
    for (uint l = 0; l < lanes; l++) {
        v[first + l] = vv[l];
        last_spike[first + l] = last[l];
    }
}

// Delivers the spikes of the last advance (their number is in *spike_count, on the device, so
// the host need not wait for it): work-group g takes spikes g, g + groups, ...; its work-items
// stride over the source's row. A spike of step k0 + b arrives at step k0 + b + delay, whose
// ring slot is (k0 + b) % delay.
__kernel void propagate(
    __global const ulong *offsets, __global const uint *targets,
    __global uint *arr_exc, __global uint *arr_inh,
    __global const ulong *spike_list, __global const uint *spike_count,
    uint n, uint n_e, uint delay, ulong k0) {
    uint n_spikes = *spike_count;
    for (uint e = get_group_id(0); e < n_spikes; e += get_num_groups(0)) {
        ulong entry = spike_list[e];
        uint s = (uint)entry;
        uint b = (uint)(entry >> 32);
        uint slot = (uint)((k0 + b) % delay);
        __global uint *arr = (s < n_e ? arr_exc : arr_inh) + (ulong)slot * n;
        ulong end = offsets[s + 1];
        for (ulong j = offsets[s] + get_local_id(0); j < end; j += get_local_size(0)) {
            atomic_inc(&arr[targets[j]]);
        }
    }
}

// The same delivery without atomics (CPUs, where a locked add costs ten plain ones): work-item w
// of `parts` owns the targets [w*n/parts, (w+1)*n/parts) and walks every spike's row (ascending
// targets) from a binary search for its first target. Every counter has one writer, and the
// sums do not depend on the order of the spikes.
__kernel void propagate_owned(
    __global const ulong *offsets, __global const uint *targets,
    __global uint *arr_exc, __global uint *arr_inh,
    __global const ulong *spike_list, __global const uint *spike_count,
    uint n, uint n_e, uint delay, ulong k0, uint parts) {
    uint w = get_global_id(0);
    if (w >= parts) {
        return;
    }
    uint n_spikes = *spike_count;
    uint lo = (uint)((ulong)n * w / parts);
    uint hi = (uint)((ulong)n * (w + 1) / parts);
    for (uint e = 0; e < n_spikes; e++) {
        ulong entry = spike_list[e];
        uint s = (uint)entry;
        uint b = (uint)(entry >> 32);
        uint slot = (uint)((k0 + b) % delay);
        __global uint *arr = (s < n_e ? arr_exc : arr_inh) + (ulong)slot * n;
        // First j in the row with targets[j] >= lo.
        ulong first = offsets[s];
        ulong end = offsets[s + 1];
        ulong len = end - first;
        while (len > 0) {
            ulong step = len / 2;
            if (targets[first + step] < lo) {
                first += step + 1;
                len -= step + 1;
            } else {
                len = step;
            }
        }
        for (ulong j = first; j < end; j++) {
            uint t = targets[j];
            if (t >= hi) {
                break;
            }
            arr[t] += 1;
        }
    }
}
