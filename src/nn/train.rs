//! Supervised classification: the training step and batched evaluation.
//!
//! One training step = upload (images, labels, and the learning rate when it changed) ->
//! forward in training mode -> softmax cross-entropy -> backward -> SGD, all recorded into one
//! GPU command encoder and submitted once; the loss and the number of correct predictions are
//! read back only every `log_every` steps, so the host never waits on the device in between.

use crate::error::{Error, Result};
use crate::kernels::losses::softmax_cross_entropy;
use crate::kernels::{Device, Tensor};

use super::buffers::Slot;
use super::network::Network;
use super::optim::{Sgd, SgdConfig};
use super::schedule::LrSchedule;

/// What a logged step reports (read back from the device).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLog {
    /// 0-based index of the step.
    pub step: usize,
    pub lr: f32,
    /// Mean cross-entropy of the step's batch.
    pub loss: f32,
    /// Rows of the batch whose arg-max logit was the label (before the update).
    pub correct: u32,
    pub batch: usize,
}

pub struct ClassificationTrainer {
    pub net: Network,
    pub sgd: Sgd,
    pub schedule: LrSchedule,
    /// Read the loss back after every `log_every`-th step (and never in between).
    pub log_every: usize,
    /// Which head is the classifier trained with cross-entropy.
    pub head: usize,
    step: usize,
    x: Slot,
    labels: Slot,
    dlogits: Slot,
    loss: Tensor,
    correct: Tensor,
}

impl ClassificationTrainer {
    /// Trains `net`'s head `head` (and the backbone) with SGD over all trainable parameters.
    pub fn new(dev: &Device, net: Network, head: &str, sgd: SgdConfig, schedule: LrSchedule, log_every: usize) -> Result<ClassificationTrainer> {
        let head = net.head_index(head).ok_or_else(|| Error::invalid("head", format!("the network has no head `{head}`")))?;
        let sgd = Sgd::new(dev, sgd, &net);
        Ok(ClassificationTrainer {
            net,
            sgd,
            schedule,
            log_every: log_every.max(1),
            head,
            step: 0,
            x: Slot::default(),
            labels: Slot::default(),
            dlogits: Slot::default(),
            loss: dev.zeros(&[1]),
            correct: dev.zeros_u32(&[1]),
        })
    }

    /// Steps done so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    fn classes(&self) -> usize {
        self.net.config.heads[self.head].out_dim()
    }

    /// One SGD step on `images` (`shape` = [N, C, H, W], row-major) with `labels` [N]. Returns the
    /// step's loss and correct count after every `log_every`-th step, else None.
    pub fn step(&mut self, dev: &Device, images: &[f32], shape: [usize; 4], labels: &[u32]) -> Result<Option<StepLog>> {
        let n = shape[0];
        check_batch(&self.net, images, shape, labels, self.classes())?;
        // Uploads first: a write submits recorded work, so nothing is recorded before them.
        let x = self.x.f32(dev, &shape);
        x.write(images);
        let y = self.labels.u32(dev, &[n]);
        y.write_u32(labels);
        let lr = self.schedule.lr_at(self.step);
        self.sgd.set_lr(lr);

        self.net.forward_features(dev, &x, true);
        let logits = self.net.forward_head(dev, self.head);
        let dlogits = self.dlogits.f32(dev, logits.shape());
        softmax_cross_entropy(dev, &logits, &y, None, 1.0, &self.loss, &dlogits, &self.correct);
        self.net.backward(dev, &[(self.head, &dlogits)]);
        self.sgd.step(dev);
        dev.flush();

        let step = self.step;
        self.step += 1;
        if !self.step.is_multiple_of(self.log_every) {
            return Ok(None);
        }
        let loss = self.loss.to_vec()[0];
        let correct = self.correct.to_vec_u32()[0];
        Ok(Some(StepLog { step, lr, loss, correct, batch: n }))
    }
}

fn check_batch(net: &Network, images: &[f32], shape: [usize; 4], labels: &[u32], classes: usize) -> Result<()> {
    let [n, c, h, w] = shape;
    if n == 0 || images.len() != n * c * h * w || labels.len() != n {
        return Err(Error::invalid("batch", format!("{} values and {} labels for shape {shape:?}", images.len(), labels.len())));
    }
    if c != net.config.in_channels {
        return Err(Error::invalid("batch", format!("{c} channels; the network takes {}", net.config.in_channels)));
    }
    net.config.arch.check_input(c, h, w)?;
    if let Some(bad) = labels.iter().find(|&&l| l as usize >= classes) {
        return Err(Error::invalid("labels", format!("label {bad} with {classes} classes")));
    }
    Ok(())
}

/// Accuracy and loss of a classifier over a labelled set.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    pub correct: usize,
    pub total: usize,
    /// Mean cross-entropy.
    pub loss: f64,
    pub per_class_correct: Vec<usize>,
    pub per_class_total: Vec<usize>,
}

impl EvalReport {
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.total.max(1) as f64
    }

    /// Accuracy of each class (NaN for a class with no samples).
    pub fn per_class_accuracy(&self) -> Vec<f64> {
        self.per_class_correct.iter().zip(&self.per_class_total).map(|(&c, &t)| if t == 0 { f64::NAN } else { c as f64 / t as f64 }).collect()
    }
}

/// Logits of head `head` for `images` (`count` samples of `sample_shape` = [C, H, W]) in eval
/// mode, `batch` at a time: `[count, classes]` row-major on the host.
pub fn predict_logits(dev: &Device, net: &mut Network, head: usize, images: &[f32], sample_shape: [usize; 3], batch: usize) -> Result<Vec<f32>> {
    let per = sample_shape.iter().product::<usize>();
    if per == 0 || !images.len().is_multiple_of(per) {
        return Err(Error::invalid("images", format!("{} values are not a whole number of {sample_shape:?} samples", images.len())));
    }
    let count = images.len() / per;
    let [c, h, w] = sample_shape;
    if c != net.config.in_channels {
        return Err(Error::invalid("images", format!("{c} channels; the network takes {}", net.config.in_channels)));
    }
    net.config.arch.check_input(c, h, w)?;
    let mut x_slot = Slot::default();
    let mut out = Vec::with_capacity(count * net.config.heads[head].out_dim());
    for start in (0..count).step_by(batch.max(1)) {
        let n = batch.max(1).min(count - start);
        let x = x_slot.f32(dev, &[n, c, h, w]);
        x.write(&images[start * per..(start + n) * per]);
        net.forward_features(dev, &x, false);
        out.extend(net.forward_head(dev, head).to_vec());
    }
    Ok(out)
}

/// Eval-mode accuracy (overall and per class) and mean cross-entropy of head `head`.
pub fn evaluate(dev: &Device, net: &mut Network, head: usize, images: &[f32], sample_shape: [usize; 3], labels: &[u32], batch: usize) -> Result<EvalReport> {
    let classes = net.config.heads[head].out_dim();
    let logits = predict_logits(dev, net, head, images, sample_shape, batch)?;
    if logits.len() != labels.len() * classes {
        return Err(Error::invalid("labels", format!("{} labels for {} samples", labels.len(), logits.len() / classes)));
    }
    let mut report = EvalReport { correct: 0, total: labels.len(), loss: 0.0, per_class_correct: vec![0; classes], per_class_total: vec![0; classes] };
    for (row, &label) in logits.chunks(classes).zip(labels) {
        let label = label as usize;
        if label >= classes {
            return Err(Error::invalid("labels", format!("label {label} with {classes} classes")));
        }
        let mut best = 0;
        for (j, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = j;
            }
        }
        let max = row[best] as f64;
        let lse = max + row.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
        report.loss += lse - row[label] as f64;
        report.per_class_total[label] += 1;
        if best == label {
            report.correct += 1;
            report.per_class_correct[label] += 1;
        }
    }
    report.loss /= labels.len().max(1) as f64;
    Ok(report)
}
