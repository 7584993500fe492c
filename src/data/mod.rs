//! Image datasets for long-tailed training: sources that read the published formats into one
//! in-memory [`Dataset`] form (ids, content hashes, manifest), the long-tail profiles and the
//! split lock that makes a split reproducible, samplers, and augmentation with batch assembly.
//!
//! Sources: [`cifar`] (CIFAR-10/100 binary), [`idx`] (MNIST, Fashion-MNIST), [`list`]
//! (ImageNet-LT / Places-LT list files), [`folder`] (class-per-folder trees), [`inat`]
//! (iNaturalist 2018 JSON), [`synthetic`] (the built-in generator). Every bad record is an
//! [`Error::DataRecord`](crate::Error::DataRecord) naming the file, the record or line and the fix.

pub mod augment;
pub mod cifar;
pub mod dataset;
pub mod folder;
pub mod idx;
pub mod inat;
pub mod list;
pub mod long_tail;
pub mod pixels;
pub mod samplers;
pub mod seeding;
pub mod split_lock;
pub mod synthetic;

pub use dataset::{ContentHash, Dataset, Location, Manifest, ManifestDiff, ManifestEntry, Origin, Pixels, Sample, Split};
pub use pixels::Image;
