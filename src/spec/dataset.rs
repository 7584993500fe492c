//! The `dataset:` section of a pipeline file: which source, where its files are (relative to the
//! pipeline file), the long-tail profile, and how the section loads into the datasets stages use.
//!
//! ```yaml
//! dataset:
//!   source: fashion_mnist          # synthetic | cifar10 | cifar100 | mnist | fashion_mnist |
//!                                  # image_list | folder | inat2018
//!   root: data/fashion-mnist       # default: /usr/share/datasets/fashion-mnist for fashion_mnist
//!   long_tail: {profile: exp, imbalance: 100, n_max: 500}
//!   shots: {many: 100, few: 20}
//!   pad_to: 32                     # 28x28 -> 32x32, zeros around
//!   validation: 0.1                # per class, carved from the long-tailed training set
//! ```
//!
//! Every path in the section (`root`, `lock`, list and JSON files) is relative to the folder of
//! the pipeline file; absolute paths are taken as they are. [`DatasetSpec::load`] loads the train
//! and test splits, applies the long tail (or a given lock file), writes the split lock beside the
//! pipeline file and fills every [`LoadedData`] field.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::augment::{Augment, AugmentPipeline, Normalize};
use crate::data::list::ListOptions;
use crate::data::long_tail::{ClassStats, LongTailSpec, Profile, Selection, ShotThresholds};
use crate::data::seeding::derive_rng;
use crate::data::split_lock::SplitLock;
use crate::data::synthetic::SyntheticSpec;
use crate::data::{Dataset, Split};
use crate::error::{Error, Result};

/// Which reader a dataset comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Synthetic,
    Cifar10,
    Cifar100,
    Mnist,
    FashionMnist,
    ImageList,
    Folder,
    Inat2018,
}

impl SourceKind {
    /// The `source:` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Synthetic => "synthetic",
            SourceKind::Cifar10 => "cifar10",
            SourceKind::Cifar100 => "cifar100",
            SourceKind::Mnist => "mnist",
            SourceKind::FashionMnist => "fashion_mnist",
            SourceKind::ImageList => "image_list",
            SourceKind::Folder => "folder",
            SourceKind::Inat2018 => "inat2018",
        }
    }

    /// The descriptor in `datasets/` that says where the files go and how to get them.
    pub fn descriptor(self) -> &'static str {
        match self {
            SourceKind::Synthetic => "datasets/synthetic.md",
            SourceKind::Cifar10 => "datasets/cifar10.md",
            SourceKind::Cifar100 => "datasets/cifar100.md",
            SourceKind::Mnist => "datasets/mnist.md",
            SourceKind::FashionMnist => "datasets/fashion-mnist.md",
            SourceKind::ImageList => "datasets/imagenet-lt.md or datasets/places-lt.md",
            SourceKind::Folder => "datasets/README.md",
            SourceKind::Inat2018 => "datasets/inaturalist2018.md",
        }
    }

    /// Per-channel mean and std of the descriptor (pixels in [0, 1]); `None` for sources with no
    /// fixed statistics (synthetic, class folders).
    pub fn default_normalize(self) -> Option<Normalize> {
        let stats = |mean: &[f32], std: &[f32]| Some(Normalize { mean: mean.to_vec(), std: std.to_vec() });
        match self {
            SourceKind::Cifar10 => stats(&[0.4914, 0.4822, 0.4465], &[0.2470, 0.2435, 0.2616]),
            SourceKind::Cifar100 => stats(&[0.5071, 0.4865, 0.4409], &[0.2673, 0.2564, 0.2762]),
            SourceKind::Mnist => stats(&[0.1307], &[0.3081]),
            SourceKind::FashionMnist => stats(&[0.2860], &[0.3530]),
            SourceKind::ImageList | SourceKind::Inat2018 => stats(&[0.485, 0.456, 0.406], &[0.229, 0.224, 0.225]),
            SourceKind::Synthetic | SourceKind::Folder => None,
        }
    }

    /// What the source reads, for "not found" messages.
    fn expected_files(self) -> &'static str {
        match self {
            SourceKind::Synthetic => "nothing (generated)",
            SourceKind::Cifar10 => "data_batch_1.bin .. data_batch_5.bin and test_batch.bin (the binary version)",
            SourceKind::Cifar100 => "train.bin and test.bin (the binary version)",
            SourceKind::Mnist | SourceKind::FashionMnist => {
                "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], \
                 t10k-labels-idx1-ubyte[.gz]"
            }
            SourceKind::ImageList => "the images the list files name, relative to the root",
            SourceKind::Folder => "one sub-folder per class under train/ and test/",
            SourceKind::Inat2018 => "the train2018.json / val2018.json annotation files and the images they name",
        }
    }
}

/// `synthetic:` — the built-in generator. Defaults: 10 classes, 3 channels, 32x32, 500 training
/// and 100 test images per class, noise 0.1, seed 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticParams {
    #[serde(default = "default_classes")]
    pub classes: usize,
    #[serde(default = "default_channels")]
    pub channels: usize,
    #[serde(default = "default_size")]
    pub size: usize,
    /// Training images rendered per class before the long tail (the long tail's `n_max` at most).
    #[serde(default = "default_images_per_class")]
    pub images_per_class: usize,
    /// Test images per class (the test split stays balanced).
    #[serde(default = "default_test_images_per_class")]
    pub test_images_per_class: usize,
    /// Standard deviation of the Gaussian pixel noise.
    #[serde(default = "default_noise")]
    pub noise: f32,
    /// Generator seed: part of the data, independent of the pipeline's training seed.
    #[serde(default)]
    pub seed: u64,
}

fn default_classes() -> usize {
    10
}
fn default_channels() -> usize {
    3
}
fn default_size() -> usize {
    32
}
fn default_images_per_class() -> usize {
    500
}
fn default_test_images_per_class() -> usize {
    100
}
fn default_noise() -> f32 {
    0.1
}

impl Default for SyntheticParams {
    fn default() -> Self {
        SyntheticParams {
            classes: default_classes(),
            channels: default_channels(),
            size: default_size(),
            images_per_class: default_images_per_class(),
            test_images_per_class: default_test_images_per_class(),
            noise: default_noise(),
            seed: 0,
        }
    }
}

impl SyntheticParams {
    pub fn generator(&self) -> SyntheticSpec {
        SyntheticSpec { classes: self.classes, channels: self.channels, size: self.size, noise: self.noise, seed: self.seed }
    }
}

/// `profile: exp` (CIFAR-LT's exponential), `step`, or `keep_all` (the source as it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileName {
    #[serde(alias = "exponential")]
    Exp,
    Step,
    KeepAll,
}

/// `selection: first` (each class's first images in file order) or `shuffled` (a permutation
/// seeded by the pipeline seed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionName {
    #[default]
    First,
    Shuffled,
}

/// `long_tail:` — how the training split is made long-tailed. Defaults: imbalance 100, n_max the
/// largest class of the source, minority_fraction 0.5 (step only), selection first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongTailParams {
    pub profile: ProfileName,
    /// n_max / n_min.
    #[serde(default = "default_imbalance")]
    pub imbalance: f64,
    #[serde(default)]
    pub n_max: Option<usize>,
    /// Share of the classes (the last ones) that are minority classes under `step`.
    #[serde(default = "default_minority_fraction")]
    pub minority_fraction: f64,
    #[serde(default)]
    pub selection: SelectionName,
}

fn default_imbalance() -> f64 {
    100.0
}
fn default_minority_fraction() -> f64 {
    0.5
}

impl LongTailParams {
    /// The data layer's spec; `seed` seeds a shuffled selection.
    pub fn to_spec(&self, seed: u64) -> LongTailSpec {
        let profile = match self.profile {
            ProfileName::Exp => Profile::Exponential,
            ProfileName::Step => Profile::Step { minority_fraction: self.minority_fraction },
            ProfileName::KeepAll => Profile::KeepAll,
        };
        let selection = match self.selection {
            SelectionName::First => Selection::FirstInFileOrder,
            SelectionName::Shuffled => Selection::Shuffled { seed },
        };
        let imbalance_factor = if self.profile == ProfileName::KeepAll { 1.0 } else { self.imbalance };
        LongTailSpec { profile, imbalance_factor, n_max: self.n_max, selection }
    }
}

/// `shots: {many: 100, few: 20}`: many-shot classes have more than `many` training images,
/// few-shot fewer than `few`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShotsParams {
    #[serde(default = "default_many")]
    pub many: usize,
    #[serde(default = "default_few")]
    pub few: usize,
}

fn default_many() -> usize {
    100
}
fn default_few() -> usize {
    20
}

impl Default for ShotsParams {
    fn default() -> Self {
        ShotsParams { many: 100, few: 20 }
    }
}

/// `eval_resize: {resize: 256, center_crop: 224}` — the deterministic evaluation sizing of
/// ImageNet-style data (shorter side to `resize`, then the central `center_crop` square).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalResize {
    pub resize: usize,
    pub center_crop: usize,
}

/// `normalize:` — omitted or `true`: the descriptor's statistics; `false`: none; or
/// `{mean: [...], std: [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NormalizeSetting {
    Descriptor(bool),
    Stats(Normalize),
}

/// `cifar100_labels: fine` (100 classes) or `coarse` (20 superclasses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cifar100Labels {
    #[default]
    Fine,
    Coarse,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub source: SourceKind,
    /// Folder holding the source's files, relative to the pipeline file. Default: for
    /// `fashion_mnist` the Debian package's `/usr/share/datasets/fashion-mnist`; required for
    /// the other file sources.
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// `image_list`: the split lists (`relative/path.jpg label` per line); train and test
    /// required, val optional (ImageNet-LT's 20-per-class validation list).
    #[serde(default)]
    pub train_list: Option<PathBuf>,
    #[serde(default)]
    pub val_list: Option<PathBuf>,
    #[serde(default)]
    pub test_list: Option<PathBuf>,
    /// `image_list`: number of classes (default: one more than the largest training label).
    #[serde(default)]
    pub classes: Option<usize>,
    /// `image_list`: let list entries be absolute or contain `..` (default false).
    #[serde(default)]
    pub allow_outside_root: bool,
    /// `inat2018`: the annotation files (default `train2018.json`, `val2018.json` in the root;
    /// given ones are relative to the pipeline file like every path here).
    #[serde(default)]
    pub train_json: Option<PathBuf>,
    #[serde(default)]
    pub test_json: Option<PathBuf>,
    /// `folder`: the class-per-folder trees, relative to the root (default `train`, `test`).
    #[serde(default)]
    pub train_dir: Option<PathBuf>,
    #[serde(default)]
    pub test_dir: Option<PathBuf>,
    /// `cifar100`: fine (default) or coarse labels.
    #[serde(default)]
    pub cifar100_labels: Cifar100Labels,
    /// `synthetic`: the generator's settings (defaults when omitted).
    #[serde(default)]
    pub synthetic: Option<SyntheticParams>,
    /// The long-tail profile applied to the training split (default: keep the source as it is).
    #[serde(default)]
    pub long_tail: Option<LongTailParams>,
    /// A split lock file to reproduce (e.g. a published CIFAR-100-LT split); overrides making
    /// the split from `long_tail`.
    #[serde(default)]
    pub lock: Option<PathBuf>,
    #[serde(default)]
    pub shots: ShotsParams,
    /// Zero-pad every image to at least `pad_to` x `pad_to` before anything else.
    #[serde(default)]
    pub pad_to: Option<usize>,
    /// Evaluation-only sizing (test, validation, soft labels); training crops come from `augment`.
    #[serde(default)]
    pub eval_resize: Option<EvalResize>,
    #[serde(default)]
    pub normalize: Option<NormalizeSetting>,
    /// Fraction of each class's training images held out as the validation split (0 = none).
    #[serde(default)]
    pub validation: Option<f64>,
}

/// A pipeline's data once loaded: the long-tailed training split, the (balanced) test split, and
/// what every stage needs to turn a sample into network input.
pub struct LoadedData {
    pub train: crate::data::Dataset,
    pub test: crate::data::Dataset,
    /// Carved from the training data when the section asks for one (never from the test split).
    pub validation: Option<crate::data::Dataset>,
    pub lock: crate::data::split_lock::SplitLock,
    /// Where the split lock was written (beside the pipeline file) or read from.
    pub lock_path: PathBuf,
    /// Class statistics of `train` and the many/medium/few thresholds.
    pub stats: crate::data::long_tail::ClassStats,
    /// Deterministic steps before any augmentation (e.g. zero-pad 28 -> 32).
    pub prepare: crate::data::augment::AugmentPipeline,
    /// Steps after augmentation (normalize with the dataset's mean/std).
    pub finish: crate::data::augment::AugmentPipeline,
    /// `[C, H, W]` of a network input.
    pub sample_shape: [usize; 3],
    /// Deterministic sizing of evaluation views only, between `prepare` and `finish` (e.g.
    /// ImageNet's resize 256 + center crop 224); training views get their size from `augment`.
    pub eval_sizing: crate::data::augment::AugmentPipeline,
}

impl LoadedData {
    /// `prepare`, then `augment`, then `finish`: the full list one view of a training sample goes through.
    pub fn train_pipeline(&self, augment: &crate::data::augment::AugmentPipeline) -> crate::data::augment::AugmentPipeline {
        let steps = self.prepare.steps.iter().chain(&augment.steps).chain(&self.finish.steps).cloned().collect();
        crate::data::augment::AugmentPipeline { steps }
    }

    /// The un-augmented view (view 0) for evaluation and soft labels: `prepare`, `eval_sizing`,
    /// then `finish`.
    pub fn eval_pipeline(&self) -> crate::data::augment::AugmentPipeline {
        self.train_pipeline(&self.eval_sizing)
    }
}

/// `<pipeline file stem>.split.lock.json` beside the pipeline file.
pub fn lock_path_for(pipeline_file: &Path) -> PathBuf {
    let stem = pipeline_file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "pipeline".into());
    pipeline_file.with_file_name(format!("{stem}.split.lock.json"))
}

impl DatasetSpec {
    /// A section with only `source` set (every other key at its default).
    pub fn new(source: SourceKind) -> DatasetSpec {
        DatasetSpec {
            source,
            root: None,
            train_list: None,
            val_list: None,
            test_list: None,
            classes: None,
            allow_outside_root: false,
            train_json: None,
            test_json: None,
            train_dir: None,
            test_dir: None,
            cifar100_labels: Cifar100Labels::Fine,
            synthetic: None,
            long_tail: None,
            lock: None,
            shots: ShotsParams::default(),
            pad_to: None,
            eval_resize: None,
            normalize: None,
            validation: None,
        }
    }

    /// Checks the settings that serde cannot (ranges, keys that belong to another source).
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(Error::invalid("dataset section", message));
        let foreign: [(&str, bool, &[SourceKind]); 10] = [
            ("classes", self.classes.is_some(), &[SourceKind::ImageList]),
            ("cifar100_labels", self.cifar100_labels != Cifar100Labels::Fine, &[SourceKind::Cifar100]),
            ("train_list", self.train_list.is_some(), &[SourceKind::ImageList]),
            ("val_list", self.val_list.is_some(), &[SourceKind::ImageList]),
            ("test_list", self.test_list.is_some(), &[SourceKind::ImageList]),
            ("allow_outside_root", self.allow_outside_root, &[SourceKind::ImageList]),
            ("train_json", self.train_json.is_some(), &[SourceKind::Inat2018]),
            ("test_json", self.test_json.is_some(), &[SourceKind::Inat2018]),
            ("train_dir", self.train_dir.is_some() || self.test_dir.is_some(), &[SourceKind::Folder]),
            ("synthetic", self.synthetic.is_some(), &[SourceKind::Synthetic]),
        ];
        for (key, set, sources) in foreign {
            if set && !sources.contains(&self.source) {
                return bad(format!(
                    "`{key}` belongs to source `{}`, this section's source is `{}`; remove it",
                    sources[0].as_str(),
                    self.source.as_str()
                ));
            }
        }
        if self.source == SourceKind::Synthetic && self.root.is_some() {
            return bad("source `synthetic` reads no files; remove `root`".into());
        }
        if self.source == SourceKind::ImageList && (self.train_list.is_none() || self.test_list.is_none()) {
            return bad("source `image_list` needs `train_list` and `test_list` (paths of the split list files)".into());
        }
        if let Some(v) = self.validation {
            if !(0.0..1.0).contains(&v) {
                return bad(format!("validation {v} must be a fraction in [0, 1) of each class's training images"));
            }
            if self.val_list.is_some() && v > 0.0 {
                return bad("give either `val_list` or a `validation` fraction, not both".into());
            }
        }
        if self.shots.few > self.shots.many + 1 {
            return bad(format!(
                "shots: few ({}) must not exceed many ({}) + 1, or a class would be both many- and few-shot",
                self.shots.few, self.shots.many
            ));
        }
        if let Some(lt) = &self.long_tail {
            if lt.profile != ProfileName::KeepAll && !(lt.imbalance >= 1.0 && lt.imbalance.is_finite()) {
                return bad(format!("long_tail.imbalance {} must be a finite number >= 1 (n_max / n_min)", lt.imbalance));
            }
        }
        if self.pad_to == Some(0) {
            return bad("pad_to must be at least 1".into());
        }
        if let Some(e) = self.eval_resize {
            if e.center_crop == 0 || e.resize < e.center_crop {
                return bad(format!(
                    "eval_resize: center_crop {} must be >= 1 and not larger than resize {}",
                    e.center_crop, e.resize
                ));
            }
        }
        if let Some(NormalizeSetting::Stats(n)) = &self.normalize {
            AugmentPipeline::new(vec![Augment::Normalize(n.clone())]).map_err(|e| Error::invalid("dataset normalize", e.to_string()))?;
        }
        Ok(())
    }

    /// The folder the source reads, resolved against the pipeline file's folder.
    pub fn resolved_root(&self, pipeline_file: &Path) -> Result<Option<PathBuf>> {
        let base = pipeline_file.parent().unwrap_or(Path::new(""));
        match (&self.root, self.source) {
            (Some(root), _) => Ok(Some(base.join(root))),
            (None, SourceKind::Synthetic) => Ok(None),
            (None, SourceKind::FashionMnist) => Ok(Some(PathBuf::from(crate::data::idx::DEBIAN_FASHION_MNIST))),
            (None, source) => Err(Error::invalid(
                "dataset section",
                format!(
                    "source `{}` needs `root:` (the folder holding {}; see {} for how to get the data)",
                    source.as_str(),
                    source.expected_files(),
                    source.descriptor()
                ),
            )),
        }
    }

    /// Loads train and test, applies the long tail (or the given lock), carves the validation
    /// split, writes the split lock beside `pipeline_file` (`<stem>.split.lock.json`; not when a
    /// lock is given) and fills every [`LoadedData`] field. `seed` (the pipeline's) seeds a
    /// shuffled long-tail selection and the validation carve.
    pub fn load(&self, pipeline_file: &Path, seed: u64) -> Result<LoadedData> {
        self.validate()?;
        let base = pipeline_file.parent().unwrap_or(Path::new("")).to_path_buf();
        let root = self.resolved_root(pipeline_file)?;
        if let Some(root) = &root {
            if !root.is_dir() {
                return Err(self.missing(root, "the dataset folder does not exist"));
            }
        }
        let (source_train, test, listed_val) = self.load_sources(root.as_deref(), &base)?;
        if source_train.is_empty() {
            return Err(self.missing(root.as_deref().unwrap_or(Path::new("<synthetic>")), "the training split has no images"));
        }

        let (lock, lock_path, long_tailed) = match &self.lock {
            Some(given) => {
                let path = base.join(given);
                let lock = SplitLock::read(&path)?;
                if let Some(lt) = &self.long_tail {
                    let asked = lt.to_spec(seed);
                    if asked != lock.spec {
                        return Err(Error::SplitMismatch {
                            message: format!(
                                "{} was made with {:?}, the dataset section asks for {:?}",
                                path.display(),
                                lock.spec,
                                asked
                            ),
                            fix: "remove `long_tail:` to reproduce the lock's split, or remove `lock:` to make a new one"
                                .into(),
                        });
                    }
                }
                let kept = lock.apply(&source_train)?;
                (lock, path, kept)
            }
            None => {
                let spec = match &self.long_tail {
                    Some(lt) => lt.to_spec(seed),
                    None => LongTailSpec {
                        profile: Profile::KeepAll,
                        imbalance_factor: 1.0,
                        n_max: None,
                        selection: Selection::FirstInFileOrder,
                    },
                };
                let lock = SplitLock::create(&source_train, &spec)?;
                let path = lock_path_for(pipeline_file);
                write_lock_if_changed(&lock, &path)?;
                let kept = lock.apply(&source_train)?;
                (lock, path, kept)
            }
        };

        let (train, validation) = match (listed_val, self.validation) {
            (Some(val), _) => (long_tailed, Some(val)),
            (None, Some(fraction)) if fraction > 0.0 => {
                let (train, val) = carve_validation(&long_tailed, fraction, seed)?;
                (train, Some(val))
            }
            (None, _) => (long_tailed, None),
        };
        let thresholds = ShotThresholds { many_above: self.shots.many, few_below: self.shots.few };
        let stats = ClassStats::of(&train, thresholds);

        let prepare = AugmentPipeline { steps: self.pad_to.map(Augment::PadTo).into_iter().collect() };
        let eval_sizing = AugmentPipeline {
            steps: self.eval_resize.map(|e| vec![Augment::Resize(e.resize), Augment::CenterCrop(e.center_crop)]).unwrap_or_default(),
        };
        let normalize = match &self.normalize {
            None | Some(NormalizeSetting::Descriptor(true)) => self.source.default_normalize(),
            Some(NormalizeSetting::Descriptor(false)) => None,
            Some(NormalizeSetting::Stats(n)) => Some(n.clone()),
        };
        let finish = AugmentPipeline { steps: normalize.map(Augment::Normalize).into_iter().collect() };

        let mut data = LoadedData {
            train,
            test,
            validation,
            lock,
            lock_path,
            stats,
            prepare,
            finish,
            sample_shape: [0; 3],
            eval_sizing,
        };
        let probe = data.eval_pipeline().view(&data.test, 0, seed, 0, 0)?;
        data.sample_shape = [probe.channels, probe.height, probe.width];
        Ok(data)
    }

    fn missing(&self, path: &Path, what: &str) -> Error {
        let how = match self.source {
            SourceKind::FashionMnist => "`apt-get install dataset-fashion-mnist` (Debian/Ubuntu) installs it in \
                 /usr/share/datasets/fashion-mnist, the default root; or download it as datasets/fashion-mnist.md says"
                .to_string(),
            source => format!("get the data as {} describes, and point `root:` at it", source.descriptor()),
        };
        Error::data_file(path, format!("{what}: source `{}` expects {} here", self.source.as_str(), self.source.expected_files()), how)
    }

    /// (training source before the long tail, test, validation from a list).
    fn load_sources(&self, root: Option<&Path>, base: &Path) -> Result<(Dataset, Dataset, Option<Dataset>)> {
        use crate::data::{cifar, folder, idx, inat, list, synthetic};
        let root_or = || root.ok_or_else(|| Error::invalid("dataset section", "this source needs `root:`"));
        Ok(match self.source {
            SourceKind::Synthetic => {
                let p = self.synthetic.clone().unwrap_or_default();
                let spec = p.generator();
                (
                    synthetic::balanced_dataset(&spec, p.images_per_class, Split::Train)?,
                    synthetic::balanced_dataset(&spec, p.test_images_per_class, Split::Test)?,
                    None,
                )
            }
            SourceKind::Cifar10 => {
                let r = root_or()?;
                (cifar::load_cifar10(r, Split::Train)?, cifar::load_cifar10(r, Split::Test)?, None)
            }
            SourceKind::Cifar100 => {
                let r = root_or()?;
                let labels = match self.cifar100_labels {
                    Cifar100Labels::Fine => cifar::Cifar100Label::Fine,
                    Cifar100Labels::Coarse => cifar::Cifar100Label::Coarse,
                };
                (cifar::load_cifar100(r, Split::Train, labels)?, cifar::load_cifar100(r, Split::Test, labels)?, None)
            }
            SourceKind::Mnist => {
                let r = root_or()?;
                (idx::load_mnist(r, Split::Train)?, idx::load_mnist(r, Split::Test)?, None)
            }
            SourceKind::FashionMnist => {
                let r = root_or()?;
                (idx::load_fashion_mnist(r, Split::Train)?, idx::load_fashion_mnist(r, Split::Test)?, None)
            }
            SourceKind::ImageList => {
                let r = root_or()?;
                let name = "image-list";
                let train_list = base.join(self.train_list.as_ref().expect("validated"));
                let test_list = base.join(self.test_list.as_ref().expect("validated"));
                for l in [&train_list, &test_list] {
                    if !l.is_file() {
                        return Err(self.missing(l, "the list file does not exist"));
                    }
                }
                let mut options = ListOptions { classes: self.classes, class_names: None, allow_outside_root: self.allow_outside_root };
                let train = list::load_image_list(r, &train_list, Split::Train, name, &options)?;
                options.classes = Some(train.num_classes());
                let test = list::load_image_list(r, &test_list, Split::Test, name, &options)?;
                let val = match &self.val_list {
                    Some(v) => Some(list::load_image_list(r, &base.join(v), Split::Val, name, &options)?),
                    None => None,
                };
                (train, test, val)
            }
            SourceKind::Folder => {
                let r = root_or()?;
                let train_dir = r.join(self.train_dir.as_deref().unwrap_or(Path::new("train")));
                let test_dir = r.join(self.test_dir.as_deref().unwrap_or(Path::new("test")));
                for d in [&train_dir, &test_dir] {
                    if !d.is_dir() {
                        return Err(self.missing(d, "the class-folder tree does not exist"));
                    }
                }
                let train = folder::load_class_folders(&train_dir, Split::Train, "folder")?;
                let test = folder::load_class_folders(&test_dir, Split::Test, "folder")?;
                if test.class_names != train.class_names {
                    return Err(Error::data_file(
                        &test_dir,
                        format!("its {} class folders differ from the {} of {}", test.num_classes(), train.num_classes(), train_dir.display()),
                        "give train and test the same class sub-folders (labels are the sorted folder names)",
                    ));
                }
                (train, test, None)
            }
            SourceKind::Inat2018 => {
                let r = root_or()?;
                let json = |given: &Option<PathBuf>, default: &str| match given {
                    Some(p) => base.join(p),
                    None => r.join(default),
                };
                let train_json = json(&self.train_json, "train2018.json");
                let test_json = json(&self.test_json, "val2018.json");
                for j in [&train_json, &test_json] {
                    if !j.is_file() {
                        return Err(self.missing(j, "the annotation file does not exist"));
                    }
                }
                let train = inat::load_inat(r, &train_json, Split::Train, "inat2018")?;
                let test = inat::load_inat(r, &test_json, Split::Test, "inat2018")?;
                (train, test, None)
            }
        })
    }
}

/// Writes `lock` to `path` unless the file already holds the same lock (same fingerprint and
/// profile), through a temporary file and a rename so no half-written lock is ever left.
fn write_lock_if_changed(lock: &SplitLock, path: &Path) -> Result<()> {
    if let Ok(existing) = SplitLock::read(path) {
        if existing == *lock {
            return Ok(());
        }
    }
    lock.write(path)
}

/// Holds out `floor(fraction * n_c)` images of each class `c` (chosen by a permutation seeded by
/// `seed` and the class) as the validation split; the rest stay in training, in their order.
pub fn carve_validation(train: &Dataset, fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
    use rand::seq::SliceRandom;
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); train.num_classes()];
    for (i, s) in train.samples.iter().enumerate() {
        by_class[s.label as usize].push(i);
    }
    let mut held = vec![false; train.len()];
    for (class, members) in by_class.iter_mut().enumerate() {
        let take = (members.len() as f64 * fraction).floor() as usize;
        if take >= members.len() && !members.is_empty() {
            return Err(Error::invalid(
                "dataset validation",
                format!("a fraction of {fraction} would leave class {class} with no training images; lower it"),
            ));
        }
        let mut rng = derive_rng("dataset/validation", seed, 0, &[&(class as u64).to_le_bytes()]);
        members.shuffle(&mut rng);
        for &i in &members[..take] {
            held[i] = true;
        }
    }
    let keep: Vec<usize> = (0..train.len()).filter(|&i| !held[i]).collect();
    let val: Vec<usize> = (0..train.len()).filter(|&i| held[i]).collect();
    let mut validation = train.subset(&val);
    validation.split = Split::Val;
    Ok((train.subset(&keep), validation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_sits_beside_the_pipeline_file() {
        assert_eq!(lock_path_for(Path::new("runs/cifar.yaml")), PathBuf::from("runs/cifar.split.lock.json"));
    }

    #[test]
    fn validation_takes_the_same_share_of_every_class() {
        let spec = SyntheticSpec { classes: 3, channels: 1, size: 4, noise: 0.0, seed: 0 };
        let d = crate::data::synthetic::dataset(&spec, &[10, 20, 5], Split::Train).unwrap();
        let (train, val) = carve_validation(&d, 0.2, 1).unwrap();
        assert_eq!(val.class_counts(), vec![2, 4, 1]);
        assert_eq!(train.class_counts(), vec![8, 16, 4]);
        let (_, again) = carve_validation(&d, 0.2, 1).unwrap();
        assert_eq!(val.samples.iter().map(|s| &s.id).collect::<Vec<_>>(), again.samples.iter().map(|s| &s.id).collect::<Vec<_>>());
    }
}
