//! Models: torchvision-exact names, shapes and parameter counts; forward shapes; whole-network
//! gradients by finite differences on both devices; wgpu against cpu; checkpoints (round trip,
//! precise mismatch messages, and loading into PyTorch when it is installed).

use std::collections::BTreeMap;
use std::path::PathBuf;

use ssdlt::kernels::losses::softmax_cross_entropy;
use ssdlt::kernels::{Device, Tensor};
use ssdlt::nn::{copy_state, ema_update_state, Arch, BufferValue, HasState, HeadConfig, Network, NetworkConfig, Sgd, SgdConfig, StateEntry};
use ssdlt::store::checkpoint::{load_network, read_metadata, save_network, save_state};

use crate::common;

/// The nn tests that run whole networks on the shared wgpu device take turns (a software
/// adapter has the machine's few cores to itself; concurrent steps would only slow each other).
pub(crate) fn gpu_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn names(net: &Network) -> Vec<String> {
    let mut s = Vec::new();
    net.state(&mut s);
    s.iter().map(|e| e.name().to_string()).collect()
}

fn shapes(net: &Network) -> BTreeMap<String, Vec<usize>> {
    let mut s = Vec::new();
    net.state(&mut s);
    s.iter().map(|e| (e.name().to_string(), e.shape())).collect()
}

fn tiny_resnet8() -> NetworkConfig {
    NetworkConfig::classifier(Arch::CifarResNet { depth: 8, width: 4 }, 1, 10)
}

fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssdlt-nn-models-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn cifar_resnets_have_the_published_parameter_counts() {
    let dev = common::cpu();
    for (depth, want) in [(8usize, 75_290usize), (20, 269_722), (32, 464_154), (56, 853_018), (110, 1_727_962)] {
        let cfg = NetworkConfig::classifier(Arch::cifar(depth), 3, 10);
        let net = Network::new(&dev, cfg.clone(), 0).unwrap();
        assert_eq!(net.param_count(), want, "resnet{depth}");
        assert_eq!(cfg.expected_param_count(), want, "resnet{depth} closed form");
    }
}

#[test]
fn cifar_resnet8_lists_its_state_in_pytorch_order() {
    let net = Network::new(&common::cpu(), NetworkConfig::classifier(Arch::cifar(8), 3, 10), 0).unwrap();
    let bn = |p: &str| ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"].map(|s| format!("{p}.{s}"));
    let mut want = vec!["conv1.weight".to_string()];
    want.extend(bn("bn1"));
    for layer in 1..=3 {
        for (conv, b) in [("conv1", "bn1"), ("conv2", "bn2")] {
            want.push(format!("layer{layer}.0.{conv}.weight"));
            want.extend(bn(&format!("layer{layer}.0.{b}")));
        }
    }
    want.extend(["fc.weight".to_string(), "fc.bias".to_string()]);
    assert_eq!(names(&net), want);
    let s = shapes(&net);
    assert_eq!(s["conv1.weight"], [16, 3, 3, 3]);
    assert_eq!(s["layer2.0.conv1.weight"], [32, 16, 3, 3]);
    assert_eq!(s["layer3.0.conv2.weight"], [64, 64, 3, 3]);
    assert_eq!(s["layer3.0.bn2.running_var"], [64]);
    assert_eq!(s["layer1.0.bn1.num_batches_tracked"], Vec::<usize>::new());
    assert_eq!(s["fc.weight"], [10, 64]);
}

#[test]
fn resnet50_equals_torchvision_in_names_shapes_and_count() {
    let dev = common::cpu();
    let net = Network::new(&dev, NetworkConfig::classifier(Arch::ResNet50, 3, 1000), 0).unwrap();
    assert_eq!(net.param_count(), 25_557_032);
    let n = names(&net);
    assert_eq!(n.len(), 320, "torchvision resnet50 state_dict has 320 entries");
    assert_eq!(net.params().len(), 161);
    let s = shapes(&net);
    assert_eq!(s["conv1.weight"], [64, 3, 7, 7]);
    assert_eq!(s["layer1.0.conv1.weight"], [64, 64, 1, 1]);
    assert_eq!(s["layer1.0.conv2.weight"], [64, 64, 3, 3]);
    assert_eq!(s["layer1.0.conv3.weight"], [256, 64, 1, 1]);
    assert_eq!(s["layer1.0.downsample.0.weight"], [256, 64, 1, 1]);
    assert_eq!(s["layer1.0.downsample.1.running_mean"], [256]);
    assert_eq!(s["layer2.0.downsample.0.weight"], [512, 256, 1, 1]);
    assert_eq!(s["layer3.5.bn3.weight"], [1024]);
    assert_eq!(s["layer4.2.conv3.weight"], [2048, 512, 1, 1]);
    assert_eq!(s["fc.weight"], [1000, 2048]);
    assert!(!s.contains_key("layer1.1.downsample.0.weight"));
    assert_eq!(&n[..7], ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked", "layer1.0.conv1.weight"]);
    assert_eq!(&n[n.len() - 2..], ["fc.weight", "fc.bias"]);
}

#[test]
fn resnext50_32x4d_equals_torchvision_in_shapes_and_count() {
    let dev = common::cpu();
    let net = Network::new(&dev, NetworkConfig::classifier(Arch::ResNeXt50_32x4d, 3, 1000), 0).unwrap();
    assert_eq!(net.param_count(), 25_028_904);
    assert_eq!(names(&net).len(), 320);
    let s = shapes(&net);
    assert_eq!(s["layer1.0.conv1.weight"], [128, 64, 1, 1]);
    assert_eq!(s["layer1.0.conv2.weight"], [128, 4, 3, 3], "32 groups of 4 channels");
    assert_eq!(s["layer4.0.conv2.weight"], [1024, 32, 3, 3]);
    assert_eq!(s["layer4.2.conv3.weight"], [2048, 1024, 1, 1]);
}

#[test]
fn imagenet_resnets_run_forward_on_a_tiny_input() {
    let dev = common::cpu();
    for arch in [Arch::ResNet50, Arch::ResNeXt50_32x4d] {
        let mut net = Network::new(&dev, NetworkConfig::classifier(arch, 3, 7), 1).unwrap();
        let x = dev.from_f32(&[1, 3, 64, 64], &common::seeded(3 * 64 * 64, 2, 1.0));
        let f = net.forward_features(&dev, &x, false);
        assert_eq!(f.shape(), [1, 2048]);
        let logits = net.forward_head(&dev, 0);
        assert_eq!(logits.shape(), [1, 7]);
        assert!(logits.to_vec().iter().all(|v| v.is_finite()), "{arch}");
    }
}

#[test]
fn cifar_resnets_give_features_and_logits_of_the_right_shape() {
    let dev = common::cpu();
    let cases = [(Arch::cifar(32), 3, 32), (Arch::cifar(20), 1, 28), (Arch::cifar(8), 3, 12)];
    for (arch, c, hw) in cases {
        let cfg = NetworkConfig::classifier(arch, c, 10).with_head(HeadConfig::projection("proj", 64, 128)).with_head(HeadConfig::linear("fc_balanced", 10));
        let mut net = Network::new(&dev, cfg, 3).unwrap();
        let x = dev.from_f32(&[2, c, hw, hw], &common::seeded(2 * c * hw * hw, 4, 1.0));
        assert_eq!(net.forward_features(&dev, &x, true).shape(), [2, 64]);
        assert_eq!(net.forward_head(&dev, 0).shape(), [2, 10]);
        assert_eq!(net.forward_head(&dev, 1).shape(), [2, 128]);
        assert_eq!(net.forward_head(&dev, 2).shape(), [2, 10]);
    }
    let net = Network::new(&dev, NetworkConfig::classifier(Arch::cifar(8), 3, 10).with_head(HeadConfig::projection("proj", 64, 128)), 0).unwrap();
    let n = names(&net);
    assert_eq!(&n[n.len() - 6..], ["fc.weight", "fc.bias", "proj.0.weight", "proj.0.bias", "proj.2.weight", "proj.2.bias"]);
}

#[test]
fn bad_architectures_and_head_names_are_refused() {
    let dev = common::cpu();
    assert!(Network::new(&dev, NetworkConfig::classifier(Arch::cifar(9), 3, 10), 0).is_err());
    let dup = NetworkConfig::classifier(Arch::cifar(8), 3, 10).with_head(HeadConfig::linear("fc", 5));
    assert!(Network::new(&dev, dup, 0).is_err());
    let reserved = NetworkConfig::classifier(Arch::cifar(8), 3, 10).with_head(HeadConfig::linear("layer1", 5));
    assert!(Network::new(&dev, reserved, 0).is_err());
}

#[test]
fn same_seed_builds_the_same_network_on_both_devices() {
    let a = Network::new(&common::cpu(), tiny_resnet8(), 9).unwrap();
    let b = Network::new(&common::gpu(), tiny_resnet8(), 9).unwrap();
    let c = Network::new(&common::cpu(), tiny_resnet8(), 10).unwrap();
    for ((pa, pb), pc) in a.params().iter().zip(b.params()).zip(c.params()) {
        assert_eq!(pa.value.to_vec(), pb.value.to_vec(), "{}", pa.name);
        if pa.shape().len() > 1 {
            assert_ne!(pa.value.to_vec(), pc.value.to_vec(), "{}", pa.name);
        }
    }
}

/// Mean cross-entropy of `net` in training mode on (x, labels); also leaves dlogits in `dl`.
fn loss_of(dev: &Device, net: &mut Network, x: &Tensor, labels: &Tensor, dl: &Tensor) -> f64 {
    let logits = net.forward(dev, x, true);
    let loss = dev.zeros(&[1]);
    let correct = dev.zeros_u32(&[1]);
    softmax_cross_entropy(dev, &logits, labels, None, 1.0, &loss, dl, &correct);
    loss.to_vec()[0] as f64
}

fn whole_network_gradients_match_finite_differences(dev: &Device) {
    let mut net = Network::new(dev, tiny_resnet8(), 5).unwrap();
    let (n, hw) = (2, 8);
    let x = dev.from_f32(&[n, 1, hw, hw], &common::seeded(n * hw * hw, 6, 1.0));
    let labels = dev.from_u32(&[n], &[3, 7]);
    let dl = dev.zeros(&[n, 10]);
    loss_of(dev, &mut net, &x, &labels, &dl);
    net.backward(dev, &[(0, &dl)]);
    let params: Vec<_> = net.params().into_iter().cloned().collect();
    assert_eq!(params.len(), 8 + 7 * 2 + 1, "conv1, 3 blocks x 2 convs, 7 BNs, fc weight + bias");
    let eps = 3e-3f32;
    let mut checked = 0;
    for p in &params {
        let grad = p.grad.to_vec();
        let value = p.value.to_vec();
        let scale = grad.iter().fold(0f32, |m, g| m.max(g.abs()));
        let picks = common::seeded_labels(3, value.len() as u32, p.len() as u64);
        for i in [0usize, value.len() - 1].into_iter().chain(picks.into_iter().map(|i| i as usize)) {
            let mut v = value.clone();
            v[i] = value[i] + eps;
            p.value.write(&v);
            let up = loss_of(dev, &mut net, &x, &labels, &dl);
            v[i] = value[i] - eps;
            p.value.write(&v);
            let down = loss_of(dev, &mut net, &x, &labels, &dl);
            p.value.write(&value);
            let numeric = ((up - down) / (2.0 * eps as f64)) as f32;
            let err = (numeric - grad[i]).abs();
            assert!(
                err <= 0.03 * grad[i].abs() + 0.01 * scale + 2e-4,
                "{} on {}: d loss / d {}[{i}] analytic {} vs numeric {numeric} (tensor max |grad| {scale})",
                p.name,
                dev.name(),
                p.name,
                grad[i]
            );
            checked += 1;
        }
    }
    assert!(checked >= 100);
}

#[test]
fn whole_resnet8_gradients_match_finite_differences_on_cpu() {
    whole_network_gradients_match_finite_differences(&common::cpu());
}

#[test]
fn whole_resnet8_gradients_match_finite_differences_on_wgpu() {
    let _turn = gpu_turn();
    whole_network_gradients_match_finite_differences(&common::gpu());
}

/// Logits, loss, every gradient, then parameters and running statistics after one SGD step.
fn one_step(dev: &Device, cfg: &NetworkConfig, x: &[f32], shape: [usize; 4], labels: &[u32]) -> Vec<(String, Vec<f32>)> {
    let mut net = Network::new(dev, cfg.clone(), 11).unwrap();
    let mut sgd = Sgd::new(dev, SgdConfig::default(), &net);
    sgd.set_lr(0.1);
    let xt = dev.from_f32(&shape, x);
    let y = dev.from_u32(&[shape[0]], labels);
    let dl = dev.zeros(&[shape[0], 10]);
    let mut out = Vec::new();
    let loss = loss_of(dev, &mut net, &xt, &y, &dl);
    out.push(("loss".to_string(), vec![loss as f32]));
    out.push(("logits".to_string(), net.forward_head(dev, 0).to_vec()));
    net.backward(dev, &[(0, &dl)]);
    for p in net.params() {
        out.push((format!("grad {}", p.name), p.grad.to_vec()));
    }
    sgd.step(dev);
    let mut state = Vec::new();
    net.state(&mut state);
    for e in state {
        match e {
            StateEntry::Param(p) => out.push((format!("updated {}", p.name), p.value.to_vec())),
            StateEntry::Buffer(b) => {
                if let BufferValue::F32(t) = &b.value {
                    out.push((b.name.clone(), t.to_vec()));
                }
            }
        }
    }
    // A smaller eval batch after the training batch reuses the layers' storage as views.
    let small = dev.from_f32(&[3, shape[1], shape[2], shape[3]], &x[..3 * shape[1] * shape[2] * shape[3]]);
    out.push(("eval logits of a smaller batch".to_string(), net.forward(dev, &small, false).to_vec()));
    out
}

#[test]
fn wgpu_forward_and_backward_match_cpu_on_a_resnet8_batch() {
    let _turn = gpu_turn();
    let cfg = NetworkConfig::classifier(Arch::cifar(8), 3, 10);
    let shape = [8, 3, 16, 16];
    let x = common::seeded(shape.iter().product(), 12, 1.0);
    let labels = common::seeded_labels(8, 10, 13);
    let cpu = one_step(&common::cpu(), &cfg, &x, shape, &labels);
    let gpu = one_step(&common::gpu(), &cfg, &x, shape, &labels);
    assert_eq!(cpu.len(), gpu.len());
    for ((name, c), (_, g)) in cpu.iter().zip(&gpu) {
        common::assert_close(name, g, c, 1e-3);
    }
}

#[test]
fn copy_state_and_ema_follow_the_source() {
    let dev = common::cpu();
    let src = Network::new(&dev, tiny_resnet8(), 1).unwrap();
    let mut dst = Network::new(&dev, tiny_resnet8(), 2).unwrap();
    let before: Vec<Vec<f32>> = dst.params().iter().map(|p| p.value.to_vec()).collect();
    ema_update_state(&dev, &mut dst, &src, 0.75, false).unwrap();
    for ((p, s), b) in dst.params().iter().zip(src.params()).zip(&before) {
        let got = p.value.to_vec();
        let want: Vec<f32> = b.iter().zip(s.value.to_vec()).map(|(t, s)| 0.75 * t + 0.25 * s).collect();
        common::assert_close(&p.name, &got, &want, 1e-6);
    }
    copy_state(&dev, &mut dst, &src).unwrap();
    for (p, s) in dst.params().iter().zip(src.params()) {
        assert_eq!(p.value.to_vec(), s.value.to_vec());
    }
    let other = Network::new(&dev, NetworkConfig::classifier(Arch::cifar(8), 1, 10), 0).unwrap();
    assert!(copy_state(&dev, &mut dst, &other).is_err(), "different widths must be refused");
}

/// A ResNet-8 with trained running statistics and counters (one training forward).
fn trained_resnet8(dev: &Device, cfg: NetworkConfig, seed: u64) -> Network {
    let mut net = Network::new(dev, cfg, seed).unwrap();
    let c = net.config.in_channels;
    let x = dev.from_f32(&[4, c, 8, 8], &common::seeded(4 * c * 64, seed + 100, 1.0));
    net.forward(dev, &x, true);
    net.forward(dev, &x, true);
    net
}

#[test]
fn saving_one_model_twice_writes_the_same_bytes() {
    let dev = common::cpu();
    let dir = scratch_dir("same-bytes");
    let net = trained_resnet8(&dev, tiny_resnet8(), 3);
    let meta = BTreeMap::from([("epoch".to_string(), "7".to_string()), ("stage".to_string(), "ce \"quoted\"".to_string()), ("a_first".to_string(), "x".to_string())]);
    let (first, second) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    save_network(&first, &net, &meta).unwrap();
    save_network(&second, &net, &meta).unwrap();
    let bytes = std::fs::read(&first).unwrap();
    assert_eq!(bytes, std::fs::read(&second).unwrap());
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(header_len % 8, 0, "the data starts 8-byte aligned");
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).expect("the header is JSON");
    assert_eq!(header["__metadata__"]["stage"], "ce \"quoted\"");
    assert_eq!(read_metadata(&first).unwrap()["a_first"], "x");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn checkpoints_round_trip_every_tensor_and_counter() {
    let dev = common::cpu();
    let dir = scratch_dir("round-trip");
    let path = dir.join("resnet8.safetensors");
    let net = trained_resnet8(&dev, tiny_resnet8(), 3);
    save_network(&path, &net, &BTreeMap::from([("epoch".to_string(), "7".to_string())])).unwrap();
    let meta = read_metadata(&path).unwrap();
    assert_eq!(meta["architecture"], "resnet8-w4");
    assert_eq!(meta["format"], "ssdlt-checkpoint");
    assert_eq!(meta["format_version"], "1");
    assert_eq!(meta["ssdlt_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(meta["epoch"], "7");

    let mut loaded = Network::new(&common::gpu(), tiny_resnet8(), 99).unwrap();
    load_network(&path, &mut loaded).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    net.state(&mut a);
    loaded.state(&mut b);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.name(), y.name());
        match (x, y) {
            (StateEntry::Param(p), StateEntry::Param(q)) => assert_eq!(p.value.to_vec(), q.value.to_vec(), "{}", p.name),
            (StateEntry::Buffer(p), StateEntry::Buffer(q)) => match (&p.value, &q.value) {
                (BufferValue::F32(s), BufferValue::F32(t)) => assert_eq!(s.to_vec(), t.to_vec(), "{}", p.name),
                (BufferValue::Count(s), BufferValue::Count(t)) => {
                    assert_eq!(s, t, "{}", p.name);
                    assert_eq!(*s, 2);
                }
                _ => panic!("{}: kinds differ", p.name),
            },
            _ => panic!("{}: kinds differ", x.name()),
        }
    }
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains(".tmp")), "no temporary file left behind");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn loading_a_mismatched_checkpoint_names_file_tensor_and_shapes() {
    let dev = common::cpu();
    let dir = scratch_dir("mismatch");
    let path = dir.join("resnet8.safetensors");
    save_network(&path, &Network::new(&dev, NetworkConfig::classifier(Arch::cifar(8), 3, 10), 0).unwrap(), &BTreeMap::new()).unwrap();

    let mut five = Network::new(&dev, NetworkConfig::classifier(Arch::cifar(8), 3, 5), 0).unwrap();
    let msg = load_network(&path, &mut five).unwrap_err().to_string();
    assert!(msg.contains("resnet8.safetensors"), "{msg}");
    assert!(msg.contains("tensor `fc.weight`: expected shape [5, 64], found [10, 64]"), "{msg}");
    assert!(msg.contains("tensor `fc.bias`: expected shape [5], found [10]"), "{msg}");

    let mut deeper = Network::new(&dev, NetworkConfig::classifier(Arch::cifar(20), 3, 10), 0).unwrap();
    let msg = load_network(&path, &mut deeper).unwrap_err().to_string();
    assert!(msg.contains("missing tensor `layer1.1.conv1.weight` (expected shape [16, 16, 3, 3])"), "{msg}");
    assert!(msg.contains("file was written for resnet8 in=3 heads=fc:linear10"), "{msg}");

    let mut with_proj = Network::new(&dev, NetworkConfig::classifier(Arch::cifar(8), 3, 10).with_head(HeadConfig::projection("proj", 64, 128)), 0).unwrap();
    save_network(&path, &with_proj, &BTreeMap::new()).unwrap();
    let mut plain = Network::new(&dev, NetworkConfig::classifier(Arch::cifar(8), 3, 10), 0).unwrap();
    let msg = load_network(&path, &mut plain).unwrap_err().to_string();
    assert!(msg.contains("unexpected tensor `proj.0.weight`"), "{msg}");
    load_network(&path, &mut with_proj).unwrap();

    let missing = dir.join("absent.safetensors");
    assert!(load_network(&missing, &mut plain).unwrap_err().to_string().contains("absent.safetensors"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn pytorch_loads_a_resnet8_checkpoint_strictly_and_agrees_on_the_logits() {
    let torch = std::process::Command::new("python3").args(["-c", "import torch, safetensors"]).output();
    if !torch.map(|o| o.status.success()).unwrap_or(false) {
        eprintln!("skipped: python3 with torch and safetensors is not available");
        return;
    }
    let dev = common::cpu();
    let dir = scratch_dir("pytorch");
    let ckpt = dir.join("resnet8.safetensors");
    let reference = dir.join("reference.safetensors");
    let mut net = trained_resnet8(&dev, NetworkConfig::classifier(Arch::cifar(8), 3, 10), 21);
    save_network(&ckpt, &net, &BTreeMap::new()).unwrap();
    let x = dev.from_f32(&[3, 3, 16, 16], &common::seeded(3 * 3 * 256, 22, 1.0));
    let logits = net.forward(&dev, &x, false).to_vec();

    /// `input` and `logits` as a state_dict for the script.
    struct Reference(Vec<ssdlt::nn::Param>);
    impl HasState for Reference {
        fn state<'a>(&'a self, out: &mut Vec<StateEntry<'a>>) {
            out.extend(self.0.iter().map(StateEntry::Param));
        }
        fn state_mut<'a>(&'a mut self, out: &mut Vec<ssdlt::nn::StateEntryMut<'a>>) {
            out.extend(self.0.iter_mut().map(ssdlt::nn::StateEntryMut::Param));
        }
    }
    let named = |name: &str, t: Tensor| ssdlt::nn::Param { name: name.into(), grad: t.clone(), velocity: t.clone(), value: t, trainable: false };
    let r = Reference(vec![named("input", x), named("logits", dev.from_f32(&[3, 10], &logits))]);
    save_state(&reference, &r, &BTreeMap::new()).unwrap();

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/checkpoint_load.py");
    let out = std::process::Command::new("python3").arg(script).arg(&ckpt).arg(&reference).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "checkpoint_load.py failed:\n{text}");
    assert!(text.contains("loads with strict=True") && text.contains("eval logits match"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}
