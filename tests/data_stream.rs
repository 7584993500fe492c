//! Tests: the timely batch stream (src/dataflow/batches.rs and operators/). Batches streamed by
//! the workers are bit-identical to assembling them one by one; the producer really runs ahead of
//! a slow consumer, within the prefetch bound; workers (threads or processes) split an epoch so
//! each sample is assembled exactly once; a bad sample ends the epoch with an error naming it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssdlt::data::augment::{assemble_batch, AugmentPipeline};
use ssdlt::data::samplers::{Sampler, SamplerKind};
use ssdlt::data::synthetic::{dataset, SyntheticSpec};
use ssdlt::data::{Dataset, Location, Origin, Pixels, Split};
use ssdlt::dataflow::batches::{for_each_batch_with, BatchPlan, BatchStream, StreamConfig, ViewBatches};
use ssdlt::dataflow::workers::WorkerArgs;

fn small_dataset() -> Dataset {
    let spec = SyntheticSpec { classes: 4, channels: 3, size: 12, noise: 0.1, seed: 3 };
    dataset(&spec, &[12, 9, 6, 4], Split::Train).unwrap()
}

fn query_view() -> AugmentPipeline {
    serde_json::from_str(r#"[{"pad_crop": 2}, "hflip", {"normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}]"#).unwrap()
}

fn key_view() -> AugmentPipeline {
    serde_json::from_str(
        r#"[{"resized_crop": {"size": 10, "scale": [0.3, 1.0]}}, "hflip", {"color_jitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1, "p": 0.8}}, {"grayscale": 0.2}, {"blur": {"p": 0.5}}]"#,
    )
    .unwrap()
}

fn config(threads: usize) -> StreamConfig {
    StreamConfig { threads, ..StreamConfig::default() }
}

fn collect(plan: &BatchPlan, config: &StreamConfig) -> Vec<ViewBatches> {
    let mut out = Vec::new();
    for_each_batch_with(plan, config, |b| {
        out.push(b);
        Ok(())
    })
    .unwrap();
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn streaming_equals_synchronous_assembly_bit_for_bit() {
    let data = small_dataset();
    let order = Sampler::new(SamplerKind::InstanceBalanced, &data.labels(), 4, 11).unwrap().epoch(2);
    let (q, k) = (query_view(), key_view());
    let views = [(&q, 0u32), (&k, 1u32)];
    for (threads, drop_last) in [(1, false), (2, false), (3, true)] {
        let plan = BatchPlan { dataset: &data, order: &order, batch_size: 8, drop_last, views: &views, seed: 5, epoch: 2 };
        let streamed = collect(&plan, &config(threads));
        let expected_batches = if drop_last { order.len() / 8 } else { order.len().div_ceil(8) };
        assert_eq!(streamed.len(), expected_batches, "threads {threads}, drop_last {drop_last}");
        for (n, (b, chunk)) in streamed.iter().zip(order.chunks(8)).enumerate() {
            assert_eq!(b.index, n);
            assert_eq!(b.indices, chunk);
            assert_eq!(b.views.len(), 2);
            for (got, (pipeline, view)) in b.views.iter().zip(&views) {
                let want = assemble_batch(&data, chunk, pipeline, 5, 2, *view).unwrap();
                assert_eq!(got.shape, want.shape);
                assert_eq!(got.labels, want.labels);
                assert_eq!(bits(&got.data), bits(&want.data), "batch {n} view {view} with {threads} worker(s)");
            }
        }
    }
}

#[test]
fn the_producer_runs_ahead_while_the_consumer_holds_a_batch() {
    let data = small_dataset();
    let order: Vec<usize> = (0..data.len()).collect();
    let q = query_view();
    let views = [(&q, 0u32)];
    let plan = BatchPlan { dataset: &data, order: &order, batch_size: 4, drop_last: false, views: &views, seed: 1, epoch: 0 };
    let prefetch = 2;
    let mut stream = BatchStream::start(&plan, &StreamConfig { prefetch, ..StreamConfig::default() }).unwrap();
    assert_eq!(stream.len(), 8);
    let first = stream.next().unwrap().unwrap();
    assert_eq!(first.index, 0);
    // The consumer holds batch 0 and asks for nothing: the workers must fill the queue anyway.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stream.produced() < 1 + prefetch && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(stream.consumed(), 1);
    assert_eq!(stream.produced(), 1 + prefetch, "batches 1 and 2 are ready before the consumer asks for them");
    let mut seen = vec![first.index];
    while let Some(b) = stream.next() {
        assert!(stream.produced() <= stream.consumed() + prefetch, "never more than the prefetch depth ahead");
        seen.push(b.unwrap().index);
    }
    assert_eq!(seen, (0..8).collect::<Vec<_>>());
    stream.finish().unwrap();
}

#[test]
fn a_slow_consumer_still_receives_every_batch_of_the_epoch() {
    // The last batches wait inside the worker while the queue is full; the epoch must not end
    // before the consumer has taken them (a training step is much slower than assembly).
    let data = small_dataset();
    let order: Vec<usize> = (0..data.len()).collect();
    let q = query_view();
    let views = [(&q, 0u32)];
    let plan = BatchPlan { dataset: &data, order: &order, batch_size: 5, drop_last: false, views: &views, seed: 1, epoch: 0 };
    let mut seen = Vec::new();
    for_each_batch_with(&plan, &StreamConfig { prefetch: 1, ..StreamConfig::default() }, |b| {
        std::thread::sleep(Duration::from_millis(25));
        seen.push(b.index);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, (0..order.len().div_ceil(5)).collect::<Vec<_>>());
}

#[test]
fn two_worker_threads_cover_each_sample_exactly_once_in_order() {
    let data = small_dataset();
    let order = Sampler::new(SamplerKind::InstanceBalanced, &data.labels(), 4, 2).unwrap().epoch(0);
    let q = query_view();
    let views = [(&q, 0u32)];
    let plan = BatchPlan { dataset: &data, order: &order, batch_size: 3, drop_last: false, views: &views, seed: 0, epoch: 0 };
    let got: Vec<usize> = collect(&plan, &config(2)).into_iter().flat_map(|b| b.indices).collect();
    assert_eq!(got, order);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn two_processes_each_assemble_their_own_shard_and_together_every_sample_once() {
    let data = Arc::new(small_dataset());
    let order: Arc<Vec<usize>> = Arc::new((0..data.len()).collect());
    let addresses = vec![format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port())];
    let handles: Vec<_> = (0..2)
        .map(|process| {
            let (data, order, addresses) = (data.clone(), order.clone(), addresses.clone());
            std::thread::spawn(move || {
                let q = query_view();
                let views = [(&q, 0u32)];
                let plan = BatchPlan { dataset: &data, order: &order, batch_size: 5, drop_last: false, views: &views, seed: 0, epoch: 0 };
                let config = StreamConfig { threads: 1, processes: 2, process, addresses, prefetch: 2 };
                collect(&plan, &config).into_iter().map(|b| (b.index, b.indices)).collect::<Vec<_>>()
            })
        })
        .collect();
    let shards: Vec<Vec<(usize, Vec<usize>)>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(shards[0].iter().map(|b| b.0).collect::<Vec<_>>(), vec![0, 2, 4, 6]);
    assert_eq!(shards[1].iter().map(|b| b.0).collect::<Vec<_>>(), vec![1, 3, 5]);
    let mut all: Vec<usize> = shards.iter().flatten().flat_map(|b| b.1.clone()).collect();
    all.sort_unstable();
    assert_eq!(all, *order);
}

#[test]
fn worker_arguments_parse_like_timelys_and_check_the_hostfile() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        workers: WorkerArgs,
    }
    let dir = std::env::temp_dir().join(format!("ssdlt-data-stream-hosts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hosts = dir.join("hosts.txt");
    std::fs::write(&hosts, "node0:2101\nnode1:2101\n").unwrap();
    let cmd = Cmd::try_parse_from(["x", "-w", "2", "-n", "2", "-p", "1", "--hostfile", hosts.to_str().unwrap()]).unwrap();
    let config = cmd.workers.to_config().unwrap();
    assert_eq!((config.threads, config.processes, config.process, config.total_workers()), (2, 2, 1, 4));
    assert_eq!(config.addresses, vec!["node0:2101", "node1:2101"]);
    let bad = Cmd::try_parse_from(["x", "-n", "3", "--hostfile", hosts.to_str().unwrap()]).unwrap();
    let err = bad.workers.to_config().unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("2 hosts for 3 processes"), "{err}");
    let err = Cmd::try_parse_from(["x", "-n", "2", "-p", "2"]).unwrap().workers.to_config().unwrap_err();
    assert!(err.to_string().contains("must be below"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `data` with sample `at` replaced by an "image" file holding garbage bytes.
fn with_corrupt_image(mut data: Dataset, at: usize, dir: &Path) -> Dataset {
    let file = dir.join("broken.png");
    std::fs::write(&file, b"\x89PNG\r\n\x1a\nthis is not a png").unwrap();
    let list: Arc<Path> = Arc::from(dir.join("list.txt").as_path());
    let s = &mut data.samples[at];
    s.id = "images/broken.png".into();
    s.pixels = Pixels::Encoded(file);
    s.origin = Origin { file: list, location: Location::Line(7) };
    data
}

#[test]
fn a_bad_sample_ends_the_epoch_with_an_error_naming_it_after_the_batches_before_it() {
    let dir = std::env::temp_dir().join(format!("ssdlt-data-stream-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = with_corrupt_image(small_dataset(), 13, &dir);
    let order: Vec<usize> = (0..data.len()).collect();
    let q = query_view();
    let views = [(&q, 0u32)];
    let plan = BatchPlan { dataset: &data, order: &order, batch_size: 4, drop_last: false, views: &views, seed: 0, epoch: 0 };
    for threads in [1, 2] {
        let mut delivered = Vec::new();
        let err = for_each_batch_with(&plan, &config(threads), |b| {
            delivered.push(b.index);
            Ok(())
        })
        .unwrap_err();
        assert_eq!(delivered, vec![0, 1, 2], "sample 13 is in batch 3");
        let text = err.to_string();
        assert!(text.contains("images/broken.png") && text.contains("line 7"), "{text}");
        assert!(err.is_usage(), "{text}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_error_from_the_consumer_stops_the_workers_and_is_returned() {
    let data = small_dataset();
    let order: Vec<usize> = (0..data.len()).collect();
    let q = query_view();
    let views = [(&q, 0u32)];
    let plan = BatchPlan { dataset: &data, order: &order, batch_size: 2, drop_last: false, views: &views, seed: 0, epoch: 0 };
    let mut calls = 0;
    let err = for_each_batch_with(&plan, &config(2), |_| {
        calls += 1;
        if calls == 2 {
            Err(ssdlt::Error::invalid("training step", "loss is NaN"))
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    assert!(err.to_string().contains("loss is NaN"));
    assert_eq!(calls, 2);
}
