//! Learning-rate schedules: cosine annealing or step milestones, with optional linear warm-up.
//!
//! Positions are counted in optimizer steps; `steps_per_epoch` converts. Per-epoch schedules
//! hold the rate constant inside an epoch, as PyTorch's `CosineAnnealingLR` / `MultiStepLR`
//! stepped once per epoch (what the paper recipes use); per-step cosine anneals every step.

/// What happens after warm-up.
#[derive(Debug, Clone, PartialEq)]
pub enum Decay {
    /// lr = min_lr + (base - min_lr) (1 + cos(pi t / T)) / 2 over the epochs after warm-up
    /// (T = epochs - warmup_epochs, t counted from the end of warm-up): PyTorch
    /// `CosineAnnealingLR(T_max=T, eta_min=min_lr)`.
    Cosine { min_lr: f32 },
    /// lr = base * gamma^(number of milestones <= epoch); milestones are absolute epochs
    /// (PyTorch `MultiStepLR`).
    Step { milestones: Vec<usize>, gamma: f32 },
    Constant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LrSchedule {
    pub base_lr: f32,
    pub decay: Decay,
    pub epochs: usize,
    pub steps_per_epoch: usize,
    /// Epochs of linear warm-up before the decay: in epoch e < warmup the rate is
    /// base * (e + 1) / warmup (per epoch) or base * (s + 1) / (warmup * steps_per_epoch) (per step).
    pub warmup_epochs: usize,
    /// Change the rate every step instead of once per epoch (cosine and warm-up).
    pub per_step: bool,
}

impl LrSchedule {
    pub fn constant(lr: f32) -> LrSchedule {
        LrSchedule { base_lr: lr, decay: Decay::Constant, epochs: 1, steps_per_epoch: 1, warmup_epochs: 0, per_step: false }
    }

    pub fn cosine(base_lr: f32, epochs: usize, steps_per_epoch: usize) -> LrSchedule {
        LrSchedule { base_lr, decay: Decay::Cosine { min_lr: 0.0 }, epochs, steps_per_epoch, warmup_epochs: 0, per_step: false }
    }

    pub fn step(base_lr: f32, milestones: Vec<usize>, gamma: f32, epochs: usize, steps_per_epoch: usize) -> LrSchedule {
        LrSchedule { base_lr, decay: Decay::Step { milestones, gamma }, epochs, steps_per_epoch, warmup_epochs: 0, per_step: false }
    }

    pub fn with_warmup(mut self, epochs: usize) -> LrSchedule {
        self.warmup_epochs = epochs;
        self
    }

    pub fn per_step(mut self, per_step: bool) -> LrSchedule {
        self.per_step = per_step;
        self
    }

    pub fn total_steps(&self) -> usize {
        self.epochs * self.steps_per_epoch
    }

    /// The learning rate of optimizer step `step` (0-based).
    pub fn lr_at(&self, step: usize) -> f32 {
        let spe = self.steps_per_epoch.max(1);
        let epoch = step / spe;
        let base = self.base_lr as f64;
        if epoch < self.warmup_epochs {
            let frac = if self.per_step {
                (step + 1) as f64 / (self.warmup_epochs * spe) as f64
            } else {
                (epoch + 1) as f64 / self.warmup_epochs as f64
            };
            return (base * frac) as f32;
        }
        match &self.decay {
            Decay::Constant => self.base_lr,
            Decay::Step { milestones, gamma } => {
                let passed = milestones.iter().filter(|&&m| m <= epoch).count();
                (base * (*gamma as f64).powi(passed as i32)) as f32
            }
            Decay::Cosine { min_lr } => {
                let span_epochs = self.epochs.saturating_sub(self.warmup_epochs).max(1);
                let (t, span) = if self.per_step {
                    ((step - self.warmup_epochs * spe) as f64, (span_epochs * spe) as f64)
                } else {
                    ((epoch - self.warmup_epochs) as f64, span_epochs as f64)
                };
                let t = t.min(span);
                let min = *min_lr as f64;
                (min + (base - min) * (1.0 + (std::f64::consts::PI * t / span).cos()) / 2.0) as f32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f64) -> bool {
        (a as f64 - b).abs() <= 1e-6 * b.abs().max(1e-3)
    }

    #[test]
    fn per_epoch_cosine_matches_cosine_annealing_lr() {
        let s = LrSchedule::cosine(0.1, 200, 10);
        for epoch in [0usize, 1, 50, 100, 150, 199] {
            let want = 0.1 * (1.0 + (std::f64::consts::PI * epoch as f64 / 200.0).cos()) / 2.0;
            for within in [0, 9] {
                assert!(close(s.lr_at(epoch * 10 + within), want), "epoch {epoch}: {} vs {want}", s.lr_at(epoch * 10));
            }
        }
        assert_eq!(s.lr_at(0), 0.1);
    }

    #[test]
    fn per_step_cosine_reaches_zero_at_the_end() {
        let s = LrSchedule::cosine(0.2, 4, 25).per_step(true);
        assert!(close(s.lr_at(50), 0.1));
        let want = 0.2 * (1.0 + (std::f64::consts::PI * 99.0 / 100.0).cos()) / 2.0;
        assert!(close(s.lr_at(99), want));
        assert!(s.lr_at(100).abs() < 1e-9);
        assert!(s.lr_at(1) < s.lr_at(0));
    }

    #[test]
    fn cosine_with_min_lr_ends_at_min_lr() {
        let mut s = LrSchedule::cosine(1.0, 10, 1);
        s.decay = Decay::Cosine { min_lr: 0.1 };
        assert!(close(s.lr_at(5), 0.1 + 0.9 * 0.5));
        assert!(close(s.lr_at(10), 0.1));
    }

    #[test]
    fn step_milestones_multiply_by_gamma() {
        let s = LrSchedule::step(0.1, vec![160, 180], 0.01, 200, 5);
        assert!(close(s.lr_at(159 * 5 + 4), 0.1));
        assert!(close(s.lr_at(160 * 5), 0.001));
        assert!(close(s.lr_at(180 * 5), 0.00001));
    }

    #[test]
    fn warmup_ramps_linearly_then_hands_over() {
        let s = LrSchedule::step(0.1, vec![160, 180], 0.01, 200, 10).with_warmup(5);
        assert!(close(s.lr_at(0), 0.02));
        assert!(close(s.lr_at(9), 0.02));
        assert!(close(s.lr_at(10), 0.04));
        assert!(close(s.lr_at(49), 0.1));
        assert!(close(s.lr_at(50), 0.1));
        let p = LrSchedule::cosine(0.1, 20, 10).with_warmup(2).per_step(true);
        assert!(close(p.lr_at(0), 0.1 / 20.0));
        assert!(close(p.lr_at(19), 0.1));
        assert!(close(p.lr_at(20), 0.1), "cosine starts at the base rate after warm-up");
        let want = 0.1 * (1.0 + (std::f64::consts::PI * 90.0 / 180.0).cos()) / 2.0;
        assert!(close(p.lr_at(110), want));
        let e = LrSchedule::cosine(0.1, 20, 10).with_warmup(2);
        let want = 0.1 * (1.0 + (std::f64::consts::PI * 9.0 / 18.0).cos()) / 2.0;
        assert!(close(e.lr_at(115), want));
    }
}
