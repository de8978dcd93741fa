//! Recorders: the population rate and the spikes of chosen neurons (Brian2's
//! `PopulationRateMonitor` and `SpikeMonitor`), and per-neuron statistics for the summary.

use crate::backend::Recorder;
use crate::config::RecordSpikes;

/// What Brian2's example records: the number of spikes of every step, and the spikes of the
/// chosen neurons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpikeRecorder {
    /// Whose spikes are kept.
    pub select: RecordSpikes,
    /// Spikes of all neurons at each step (population rate = count / (N dt)).
    pub counts: Vec<u32>,
    /// Step of each kept spike.
    pub steps: Vec<u64>,
    /// Neuron of each kept spike; spikes are in (step, id) order.
    pub ids: Vec<u32>,
}

impl SpikeRecorder {
    /// An empty record for a run of `steps` steps.
    pub fn new(select: RecordSpikes, steps: u64) -> SpikeRecorder {
        SpikeRecorder {
            select,
            counts: Vec::with_capacity(steps as usize),
            steps: Vec::new(),
            ids: Vec::new(),
        }
    }

    /// Like [`SpikeRecorder::new`], but an error, not an abort, when the counts of `steps`
    /// steps cannot be allocated.
    pub fn try_new(
        select: RecordSpikes,
        steps: u64,
    ) -> Result<SpikeRecorder, std::collections::TryReserveError> {
        let mut counts = Vec::new();
        counts.try_reserve_exact(steps as usize)?;
        Ok(SpikeRecorder {
            select,
            counts,
            steps: Vec::new(),
            ids: Vec::new(),
        })
    }

    /// Population rate of each step in Hz, for `n` neurons and a step of `dt` ms.
    pub fn rate_hz(&self, n: u32, dt: f64) -> Vec<f64> {
        self.try_rate_hz(n, dt)
            .expect("room for the population rate")
    }

    /// [`SpikeRecorder::rate_hz`], an error when its array cannot be allocated.
    pub fn try_rate_hz(
        &self,
        n: u32,
        dt: f64,
    ) -> Result<Vec<f64>, std::collections::TryReserveError> {
        let scale = 1000.0 / (n as f64 * dt);
        let mut rate = Vec::new();
        rate.try_reserve_exact(self.counts.len())?;
        rate.extend(self.counts.iter().map(|&c| c as f64 * scale));
        Ok(rate)
    }
}

impl Recorder for SpikeRecorder {
    fn record(&mut self, step: u64, spikes: &[u32]) {
        self.counts.push(spikes.len() as u32);
        match self.select {
            RecordSpikes::None => {}
            RecordSpikes::All => {
                self.ids.extend_from_slice(spikes);
                self.steps.extend(std::iter::repeat_n(step, spikes.len()));
            }
            RecordSpikes::First(limit) => {
                // Spikes are ascending: the kept ones are a prefix.
                let kept = spikes.partition_point(|&s| s < limit);
                self.ids.extend_from_slice(&spikes[..kept]);
                self.steps.extend(std::iter::repeat_n(step, kept));
            }
        }
    }
}

/// Per-neuron spike statistics of every neuron, kept in integers (exact, and the same whatever
/// the backend): spike counts over the whole run, and inside an analysis window the count and
/// the interspike intervals' sum and sum of squares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeuronStats {
    /// First step of the analysis window.
    pub window_start: u64,
    /// Spikes of each neuron over the whole run.
    pub total: Vec<u32>,
    /// Spikes of each neuron inside the window.
    pub in_window: Vec<u32>,
    /// Last spike of each neuron inside the window (u64::MAX: none yet).
    pub last: Vec<u64>,
    /// Number of intervals between two spikes inside the window.
    pub isi_count: Vec<u32>,
    /// Sum of those intervals (steps).
    pub isi_sum: Vec<u64>,
    /// Sum of their squares (steps²).
    pub isi_sum_sq: Vec<u64>,
    /// Steps recorded.
    pub steps: u64,
}

impl NeuronStats {
    /// Statistics of `n` neurons; the window starts at `window_start`.
    pub fn new(n: u32, window_start: u64) -> NeuronStats {
        let n = n as usize;
        NeuronStats {
            window_start,
            total: vec![0; n],
            in_window: vec![0; n],
            last: vec![u64::MAX; n],
            isi_count: vec![0; n],
            isi_sum: vec![0; n],
            isi_sum_sq: vec![0; n],
            steps: 0,
        }
    }

    /// The window of docs/model.md's table: the last 80 % of a run of `steps` steps.
    pub fn last_80_percent(n: u32, steps: u64) -> NeuronStats {
        NeuronStats::new(n, (steps as f64 * 0.2).round() as u64)
    }

    /// Mean rate (Hz) of neurons `range` inside the window, for a step of `dt` ms.
    pub fn mean_rate(&self, range: std::ops::Range<u32>, dt: f64) -> f64 {
        let window_steps = self.steps.saturating_sub(self.window_start);
        if range.is_empty() || window_steps == 0 {
            return 0.0;
        }
        let spikes: u64 = self.in_window[range.start as usize..range.end as usize]
            .iter()
            .map(|&c| c as u64)
            .sum();
        spikes as f64 / (range.len() as f64 * window_steps as f64 * dt / 1000.0)
    }

    /// Coefficient of variation (std / mean, population std) of each neuron's intervals inside
    /// the window, for neurons with at least two intervals.
    pub fn cvs(&self) -> Vec<f64> {
        (0..self.total.len())
            .filter(|&i| self.isi_count[i] >= 2)
            .map(|i| {
                let n = self.isi_count[i] as f64;
                let mean = self.isi_sum[i] as f64 / n;
                let var = (self.isi_sum_sq[i] as f64 / n - mean * mean).max(0.0);
                var.sqrt() / mean
            })
            .collect()
    }

    /// Mean CV over neurons with at least two intervals (NaN if there are none).
    pub fn mean_cv(&self) -> f64 {
        let cvs = self.cvs();
        cvs.iter().sum::<f64>() / cvs.len() as f64
    }

    /// Spikes of all neurons over the whole run.
    pub fn total_spikes(&self) -> u64 {
        self.total.iter().map(|&c| c as u64).sum()
    }

    /// Synaptic events: every spike times the out-degree of its neuron.
    pub fn synaptic_events(&self, network: &crate::Network) -> u64 {
        self.synaptic_events_by_degree(&network.out_degrees())
    }

    /// Synaptic events from the out-degree of every neuron (for a caller that no longer holds
    /// the network).
    pub fn synaptic_events_by_degree(&self, out_degrees: &[u32]) -> u64 {
        self.total
            .iter()
            .zip(out_degrees)
            .map(|(&spikes, &degree)| spikes as u64 * degree as u64)
            .sum()
    }
}

impl Recorder for NeuronStats {
    fn record(&mut self, step: u64, spikes: &[u32]) {
        self.steps = self.steps.max(step + 1);
        for &s in spikes {
            let i = s as usize;
            self.total[i] += 1;
            if step < self.window_start {
                continue;
            }
            self.in_window[i] += 1;
            if self.last[i] != u64::MAX {
                let isi = step - self.last[i];
                self.isi_count[i] += 1;
                self.isi_sum[i] += isi;
                self.isi_sum_sq[i] += isi * isi;
            }
            self.last[i] = step;
        }
    }
}
