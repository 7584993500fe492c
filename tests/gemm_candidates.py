#!/usr/bin/env python3
"""Writes the candidate GEMM kernels that tests/kernels_gemm_candidates.rs times (by hand, not
shipped): 16x16 unrolled variants (bindings, index types, clamps, workgroup shapes, vec4 loads,
k unrolling), a uniform-buffer row operand, the subgroup 64x8 kernel and the subgroup kernels with
operands in textures (t*: layouts and blocks; t20-t33 read the harness's per-tile packed operands
AP/BP, t30-t36 order the multiply-adds accumulator by accumulator; BENCHMARKS.md session 5;
t40-t45: B packed in panels with A as in production, and/or two k/4 steps per iteration).

    SHAPE=1024,1024,1024 python3 tests/gemm_candidates.py /tmp/cand [name prefixes, comma-separated]

The uniform-buffer candidates size their array for SHAPE's A (m * k floats), which must fit
lavapipe's 64 KiB uniform binding (e.g. SHAPE=64,16384,256); pass the same shape to the harness
as GEMM_CAND_SHAPE.
"""
import sys, pathlib
D = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/cand")
W = 8
HDR = """struct P { m: u32, n: u32, k: u32, lane_blocks: u32 }
@group(0) @binding(0) var<uniform> params: P;
"""
def decl(idx, name, space, ty, cap=None):
    if space == "uniform":
        return f"@group(0) @binding({idx}) var<uniform> {name}: array<{ty}, {cap}>;\n"
    return f"@group(0) @binding({idx}) var<storage, {space}> {name}: array<{ty}>;\n"

def unrolled(bm, bn, bspace="read", aspace="read", cap_b=None, cap_a=None, idx="u32"):
    # lanes along columns of C; lane t takes columns l0 + t + W*j
    o = [f"// candidate entry=main tile={bm}x{W*bn} bind=1:B,2:A,3:C", HDR]
    o.append(decl(1, "p", bspace, "f32" if bspace!="uniform" else "vec4<f32>", cap_b))
    o.append(decl(2, "q", aspace, "f32" if aspace!="uniform" else "vec4<f32>", cap_a))
    o.append(decl(3, "c", "read_write", "f32"))
    o.append(f"@compute @workgroup_size({W})\nfn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {{")
    o.append("    let block = wid.x + wid.y * nwg.x;")
    o.append("    let lb = block % params.lane_blocks;")
    o.append(f"    let i0 = (block / params.lane_blocks) * {bm}u;")
    o.append(f"    let l0 = lb * {W*bn}u + lid.x;")
    for i in range(bm):
        o.append("    " + " ".join(f"var c{i}_{j} = 0.0;" for j in range(bn)))
    o.append("    var po = 0u;\n    var qo = i0 * params.k;")
    o.append("    for (var kk = 0u; kk < params.k; kk = kk + 1u) {")
    def ld(arr, space, e):
        if space == "uniform":
            return f"{arr}[({e}) >> 2u][({e}) & 3u]"
        return f"{arr}[{e}]"
    for j in range(bn):
        o.append(f"        let p{j} = {ld('p', bspace, f'po + l0 + {W*j}u')};")
    for i in range(bm):
        o.append(f"        let q{i} = {ld('q', aspace, f'qo + {i}u * params.k + kk')};")
    for i in range(bm):
        o.append("        " + " ".join(f"c{i}_{j} = fma(q{i}, p{j}, c{i}_{j});" for j in range(bn)))
    o.append("        po = po + params.n;")
    o.append("    }")
    for i in range(bm):
        o.append("    " + " ".join(f"c[(i0 + {i}u) * params.n + l0 + {W*j}u] = c{i}_{j};" for j in range(bn)))
    o.append("}")
    return "\n".join(o) + "\n"

def subgroup(bm, bn, bspace="read", aspace="read", cap_b=None, cap_a=None):
    v = bn // 4
    o = [f"// candidate entry=main tile={bm}x{W*bn} bind=1:B,2:A,3:C", HDR]
    o.append(decl(1, "p", bspace, "vec4<f32>", cap_b))
    o.append(decl(2, "q", aspace, "vec4<f32>", cap_a))
    o.append(decl(3, "c", "read_write", "f32"))
    o.append(f"@compute @workgroup_size({W})\nfn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {{")
    o.append("    let block = wid.x + wid.y * nwg.x;")
    o.append("    let lb = block % params.lane_blocks;")
    o.append(f"    let i0 = (block / params.lane_blocks) * {bm}u;")
    o.append(f"    let v0 = lb * {W*v}u + lid.x;")
    o.append("    let n4 = params.n / 4u;\n    let k4 = params.k / 4u;")
    for u in range(bm // W):
        o.append(f"    let r{u} = (i0 + lid.x + {W*u}u) * k4;")
    for i in range(bm):
        o.append("    " + " ".join(f"var c{i}_{j} = vec4<f32>(0.0);" for j in range(v)))
    o.append("    var po = 0u;")
    o.append("    for (var kk = 0u; kk < k4; kk = kk + 1u) {")
    for u in range(bm // W):
        o.append(f"        let qv{u} = q[r{u} + kk];")
    for i in range(bm):
        o.append(f"        let q{i} = subgroupBroadcast(qv{i // W}, {i % W}u);")
    for s, comp in enumerate("xyzw"):
        for j in range(v):
            o.append(f"        let p{s}_{j} = p[po + v0 + {W*j}u];")
        o.append("        po = po + n4;")
        for i in range(bm):
            o.append("        " + " ".join(f"c{i}_{j} = fma(vec4<f32>(q{i}.{comp}), p{s}_{j}, c{i}_{j});" for j in range(v)))
    o.append("    }")
    for i in range(bm):
        for j in range(v):
            o.append("    " + " ".join(f"c[(i0 + {i}u) * params.n + (v0 + {W*j}u) * 4u + {e}u] = c{i}_{j}.{comp};" for e, comp in enumerate("xyzw")))
    o.append("}")
    return "\n".join(o) + "\n"

def subgroup_tex(bm, bn, b="storage", a="storage", hoist=False, unroll=1, acc_inner=False):
    """The subgroup kernel with B and/or A read by textureLoad from a texture instead of a storage
    buffer. b: "storage" | "rgba" (rgba32float, texel (x, y) = B[y, 4x..4x+4]) | "r" (r32float,
    texel (x, y) = B[y, x]; lane columns l0 + 8t, 8 fetches per k) | "lin" (rgba32float 4096 texels
    wide, vec4 number t of the row-major operand at (t & 4095, t >> 12): the production layout) |
    "pack" (the harness's BP, B in panels of the tile's columns, as a "lin" texture: a workgroup's
    B is one contiguous stream); a: "storage" | "rgba" (texel (x, y) = A[y, 4x..4x+4]) | "lin" |
    "pack" (AP: A in blocks of bm rows, the block's 64 texels of one kk side by side).
    hoist: every B fetch of an iteration (all four k rows) before its first multiply-add, so
    that the fetches' memory latencies overlap instead of following one another.
    unroll: that many k/4 steps per loop iteration (pack or lin operands; k/4 a multiple of it),
    each in its own block, so the loop's per-iteration work (lavapipe's masked update of every
    accumulator) is shared by more multiply-adds.
    acc_inner (with hoist): the multiply-adds ordered accumulator by accumulator, the four k rows
    of one accumulator back to back (the same order of additions per accumulator as before), so
    that a spilled accumulator is loaded and stored once per k/4 step instead of four times."""
    v = bn // 4
    binds, texs = ["3:C"], []
    if b == "storage": binds.append("1:B")
    elif b == "pack": texs.append("1:BP:lin")
    else: texs.append(f"1:B:{b}")
    if a == "storage": binds.append("2:A")
    elif a == "pack": texs.append("2:AP:lin")
    else: texs.append(f"2:A:{a}")
    hdr = f"// candidate entry=main tile={bm}x{W*bn} bind={','.join(binds)}"
    if texs: hdr += f" tex={','.join(texs)}"
    o = [hdr, HDR]
    o.append(decl(1, "p", "read", "vec4<f32>") if b == "storage" else "@group(0) @binding(1) var pt: texture_2d<f32>;\n")
    o.append(decl(2, "q", "read", "vec4<f32>") if a == "storage" else "@group(0) @binding(2) var qt: texture_2d<f32>;\n")
    o.append(decl(3, "c", "read_write", "f32"))
    o.append("fn lin(t: texture_2d<f32>, i: u32) -> vec4<f32> { return textureLoad(t, vec2<i32>(i32(i & 4095u), i32(i >> 12u)), 0); }")
    o.append(f"@compute @workgroup_size({W})\nfn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {{")
    o.append("    let block = wid.x + wid.y * nwg.x;")
    o.append("    let lb = block % params.lane_blocks;")
    o.append(f"    let i0 = (block / params.lane_blocks) * {bm}u;")
    if b == "r":
        o.append(f"    let l0 = i32(lb * {W*bn}u + lid.x);")
    else:
        o.append(f"    let v0 = lb * {W*v}u + lid.x;")
    o.append("    let n4 = params.n / 4u;\n    let k4 = params.k / 4u;")
    for u in range(bm // W):
        if a == "pack":
            if u == 0: o.append(f"    var qo = i0 * k4 + lid.x;")
        elif a in ("storage", "lin"):
            o.append(f"    let r{u} = (i0 + lid.x + {W*u}u) * k4;")
        else:
            o.append(f"    let r{u} = i32(i0 + lid.x + {W*u}u);")
    for i in range(bm):
        o.append("    " + " ".join(f"var c{i}_{j} = vec4<f32>(0.0);" for j in range(v)))
    o.append(f"    var po = lb * params.k * {W*v}u + lid.x;" if b == "pack" else "    var po = 0u;")
    o.append(f"    for (var kk = 0u; kk < k4; kk = kk + {unroll}u) {{")
    assert unroll == 1 or (a in ("pack", "lin") and b in ("pack", "lin"))
    loop_start = len(o)
    for u in range(bm // W):
        if a == "pack":
            o.append(f"        let qv{u} = lin(qt, qo + {W*u}u);")
        elif a == "storage":
            o.append(f"        let qv{u} = q[r{u} + kk];")
        elif a == "lin":
            o.append(f"        let qv{u} = lin(qt, r{u} + kk + KSTEPu);")
        else:
            o.append(f"        let qv{u} = textureLoad(qt, vec2<i32>(i32(kk), r{u}), 0);")
    if a == "pack":
        o.append(f"        qo = qo + {bm}u;")
    for i in range(bm):
        o.append(f"        let q{i} = subgroupBroadcast(qv{i // W}, {i % W}u);")
    def fetch_b(s, j):
        if b == "pack":
            return f"        let p{s}_{j} = lin(pt, po + {W*v*s + W*j}u);"
        return f"        let p{s}_{j} = lin(pt, po + {s}u * n4 + v0 + {W*j}u);"
    if hoist:
        assert b in ("pack", "lin")
        for s in range(4):
            for j in range(v):
                o.append(fetch_b(s, j))
        o.append(f"        po = po + {4*W*v}u;" if b == "pack" else "        po = po + 4u * n4;")
    if acc_inner:
        assert hoist
        for i in range(bm):
            for j in range(v):
                o.append("        " + " ".join(f"c{i}_{j} = fma(vec4<f32>(q{i}.{comp}), p{s}_{j}, c{i}_{j});" for s, comp in enumerate("xyzw")))
    for s, comp in enumerate("xyzw" if not acc_inner else ""):
        for j in range(v):
            if b == "pack":
                if not hoist: o.append(fetch_b(s, j))
            elif b == "storage":
                o.append(f"        let p{s}_{j} = p[po + v0 + {W*j}u];")
            elif b == "lin":
                o.append(f"        let p{s}_{j} = lin(pt, po + v0 + {W*j}u);")
            elif b == "rgba":
                o.append(f"        let p{s}_{j} = textureLoad(pt, vec2<i32>(i32(v0 + {W*j}u), i32(kk * 4u + {s}u)), 0);")
            else:
                f = lambda t: f"textureLoad(pt, vec2<i32>(l0 + {W*t}, i32(kk * 4u + {s}u)), 0).x"
                o.append(f"        let p{s}_{j} = vec4<f32>({', '.join(f(4*j+e) for e in range(4))});")
        if b in ("storage", "lin"):
            o.append("        po = po + n4;")
        elif b == "pack" and not hoist and s == 3:
            o.append(f"        po = po + {4*W*v}u;")
        for i in range(bm):
            o.append("        " + " ".join(f"c{i}_{j} = fma(vec4<f32>(q{i}.{comp}), p{s}_{j}, c{i}_{j});" for j in range(v)))
    if unroll > 1:
        body = o[loop_start:]
        del o[loop_start:]
        for step in range(unroll):
            o.append("        {")
            o.extend("    " + line.replace("KSTEP", str(step)) for line in body)
            o.append("        }")
    else:
        o[loop_start:] = [line.replace(" + KSTEPu", "") for line in o[loop_start:]]
    o.append("    }")
    for i in range(bm):
        for j in range(v):
            if b == "r":
                o.append("    " + " ".join(f"c[(i0 + {i}u) * params.n + u32(l0) + {W*(4*j+e)}u] = c{i}_{j}.{comp};" for e, comp in enumerate("xyzw")))
            else:
                o.append("    " + " ".join(f"c[(i0 + {i}u) * params.n + (v0 + {W*j}u) * 4u + {e}u] = c{i}_{j}.{comp};" for e, comp in enumerate("xyzw")))
    o.append("}")
    return "\n".join(o) + "\n"

import os
M,N,K=[int(x) for x in os.environ.get("SHAPE","64,16384,256").split(",")]
CAP = M*K // 4

def variant(bm=16, bn=16, wg=8, idx="u32", vec_b=False, clamp=False, kunroll=1, twod=False):
    """lanes along columns; workgroup wg invocations (1-D) or 8 x wg/8 (2-D: y picks row blocks)."""
    T = "i32" if idx == "i32" else "u32"
    cv = (lambda x: f"i32({x})") if idx == "i32" else (lambda x: x)
    sfx = "" if idx == "u32" else ""
    cols_per_wg = W * bn
    rows_per_wg = bm * (wg // W if twod else 1)
    lanes_per_row = W if twod else wg
    cols_per_wg = lanes_per_row * bn
    o = [f"// candidate entry=main tile={rows_per_wg}x{cols_per_wg} bind=1:B,2:A,3:C", HDR]
    o.append(decl(1, "p", "read", "vec4<f32>" if vec_b else "f32"))
    o.append(decl(2, "q", "read", "f32"))
    o.append(decl(3, "c", "read_write", "f32"))
    ws = f"{W}, {wg // W}" if twod else f"{wg}"
    o.append(f"@compute @workgroup_size({ws})\nfn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {{")
    o.append("    let block = wid.x + wid.y * nwg.x;")
    o.append("    let lb = block % params.lane_blocks;")
    if twod:
        o.append(f"    let i0 = {cv('(block / params.lane_blocks) * ' + str(rows_per_wg) + 'u + lid.y * ' + str(bm) + 'u')};")
    else:
        o.append(f"    let i0 = {cv('(block / params.lane_blocks) * ' + str(bm) + 'u')};")
    z = "0" if idx == "i32" else "0u"
    one = "1" if idx == "i32" else "1u"
    L = lambda v: f"{v}" if idx == "i32" else f"{v}u"
    kk = cv("params.k"); nn = cv("params.n")
    if vec_b:
        # lane t takes vec4 columns v0 + W*j, j < bn/4
        o.append(f"    let l0 = {cv('lb * ' + str(cols_per_wg // 4) + 'u + lid.x')};")
    else:
        o.append(f"    let l0 = {cv('lb * ' + str(cols_per_wg) + 'u + lid.x')};")
    nb = bn // 4 if vec_b else bn
    for i in range(bm):
        o.append("    " + " ".join((f"var c{i}_{j} = vec4<f32>(0.0);" if vec_b else f"var c{i}_{j} = 0.0;") for j in range(nb)))
    o.append(f"    var po = {z};\n    var qo = i0 * {kk};")
    o.append(f"    let pstep = {nn}{' / 4' if vec_b else ''};")
    if clamp:
        o.append(f"    let pmax = {cv('arrayLength(&p)')} - {one};\n    let qmax = {cv('arrayLength(&q)')} - {one};")
    o.append(f"    for (var kk = {z}; kk < {kk}; kk = kk + {L(kunroll)}) {{")
    for u in range(kunroll):
        for j in range(nb):
            e = f"po + l0 + {L(lanes_per_row*j)}"
            if clamp: e = f"min({e}, pmax)"
            o.append(f"        let p{u}_{j} = p[{e}];")
        for i in range(bm):
            e = f"qo + {L(i)} * {kk} + kk + {L(u)}"
            if clamp: e = f"min({e}, qmax)"
            o.append(f"        let q{u}_{i} = q[{e}];")
        for i in range(bm):
            if vec_b:
                o.append("        " + " ".join(f"c{i}_{j} = fma(vec4<f32>(q{u}_{i}), p{u}_{j}, c{i}_{j});" for j in range(nb)))
            else:
                o.append("        " + " ".join(f"c{i}_{j} = fma(q{u}_{i}, p{u}_{j}, c{i}_{j});" for j in range(nb)))
        o.append("        po = po + pstep;")
    o.append("    }")
    for i in range(bm):
        for j in range(nb):
            if vec_b:
                for e, comp in enumerate("xyzw"):
                    o.append(f"    c[(i0 + {L(i)}) * {nn} + (l0 + {L(lanes_per_row*j)}) * {L(4)} + {L(e)}] = c{i}_{j}.{comp};")
            else:
                o.append(f"    c[(i0 + {L(i)}) * {nn} + l0 + {L(lanes_per_row*j)}] = c{i}_{j};")
    o.append("}")
    return "\n".join(o) + "\n"

out = {
  "v01_base.wgsl": variant(),
  "v02_i32.wgsl": variant(idx="i32"),
  "v03_clamp_arraylength.wgsl": variant(clamp=True),
  "v04_wg64_1d.wgsl": variant(wg=64),
  "v05_wg64_2d.wgsl": variant(wg=64, twod=True),
  "v06_wg256_2d.wgsl": variant(wg=256, twod=True),
  "v07_vec4_b.wgsl": variant(vec_b=True),
  "v08_kunroll4.wgsl": variant(kunroll=4),
  "a01_unrolled16x16.wgsl": unrolled(16, 16),
  "a02_unrolled16x16_rw.wgsl": unrolled(16, 16, "read_write", "read_write"),
  "a04_unrolled16x16_ubo_a.wgsl": unrolled(16, 16, "read", "uniform", cap_a=CAP),
  "b01_subgroup64x8.wgsl": subgroup(64, 8),
  "b03_subgroup64x8_ubo_a.wgsl": subgroup(64, 8, "read", "uniform", cap_a=CAP),
  "b04_subgroup32x8.wgsl": subgroup(32, 8),
  "b05_subgroup16x8.wgsl": subgroup(16, 8),
  "t01_subgroup64x8_tex_b.wgsl": subgroup_tex(64, 8, b="rgba"),
  "t02_subgroup64x8_tex_a.wgsl": subgroup_tex(64, 8, a="rgba"),
  "t03_subgroup64x8_tex_ab.wgsl": subgroup_tex(64, 8, b="rgba", a="rgba"),
  "t04_subgroup64x8_tex_b_r32.wgsl": subgroup_tex(64, 8, b="r"),
  "t05_subgroup32x8_tex_ab.wgsl": subgroup_tex(32, 8, b="rgba", a="rgba"),
  "t06_subgroup16x8_tex_ab.wgsl": subgroup_tex(16, 8, b="rgba", a="rgba"),
  "t07_subgroup64x8_tex_ab_r32.wgsl": subgroup_tex(64, 8, b="r", a="rgba"),
  "t08_subgroup64x16_tex_ab.wgsl": subgroup_tex(64, 16, b="rgba", a="rgba"),
  "t09_subgroup32x16_tex_ab.wgsl": subgroup_tex(32, 16, b="rgba", a="rgba"),
  "t10_subgroup64x8_tex_ab_linear.wgsl": subgroup_tex(64, 8, b="lin", a="lin"),
  "t11_subgroup32x8_tex_ab_linear.wgsl": subgroup_tex(32, 8, b="lin", a="lin"),
  "t12_subgroup16x8_tex_ab_linear.wgsl": subgroup_tex(16, 8, b="lin", a="lin"),
  "t20_subgroup64x8_tex_ab_packed.wgsl": subgroup_tex(64, 8, b="pack", a="pack"),
  "t21_subgroup64x8_tex_b_packed.wgsl": subgroup_tex(64, 8, b="pack", a="lin"),
  "t22_subgroup64x8_tex_a_packed.wgsl": subgroup_tex(64, 8, b="lin", a="pack"),
  "t23_subgroup64x8_tex_ab_packed_hoist.wgsl": subgroup_tex(64, 8, b="pack", a="pack", hoist=True),
  "t24_subgroup32x8_tex_ab_packed.wgsl": subgroup_tex(32, 8, b="pack", a="pack"),
  "t25_subgroup64x16_tex_ab_packed.wgsl": subgroup_tex(64, 16, b="pack", a="pack"),
  "t26_subgroup64x8_tex_ab_packed_unroll2.wgsl": subgroup_tex(64, 8, b="pack", a="pack", unroll=2),
  "t27_subgroup32x8_tex_ab_packed_unroll2.wgsl": subgroup_tex(32, 8, b="pack", a="pack", unroll=2),
  "t28_subgroup32x8_tex_ab_packed_unroll4.wgsl": subgroup_tex(32, 8, b="pack", a="pack", unroll=4),
  "t29_subgroup16x8_tex_ab_packed_unroll4.wgsl": subgroup_tex(16, 8, b="pack", a="pack", unroll=4),
  "t30_subgroup64x8_tex_ab_packed_acc_inner.wgsl": subgroup_tex(64, 8, b="pack", a="pack", hoist=True, acc_inner=True),
  "t31_subgroup32x8_tex_ab_packed_acc_inner.wgsl": subgroup_tex(32, 8, b="pack", a="pack", hoist=True, acc_inner=True),
  "t32_subgroup32x8_tex_ab_packed_acc_inner_unroll2.wgsl": subgroup_tex(32, 8, b="pack", a="pack", hoist=True, acc_inner=True, unroll=2),
  "t33_subgroup64x8_tex_ab_packed_acc_inner_unroll2.wgsl": subgroup_tex(64, 8, b="pack", a="pack", hoist=True, acc_inner=True, unroll=2),
  "t34_subgroup64x8_tex_ab_linear_acc_inner.wgsl": subgroup_tex(64, 8, b="lin", a="lin", hoist=True, acc_inner=True),
  "t35_subgroup32x8_tex_ab_linear_acc_inner.wgsl": subgroup_tex(32, 8, b="lin", a="lin", hoist=True, acc_inner=True),
  "t36_subgroup16x8_tex_ab_linear_acc_inner.wgsl": subgroup_tex(16, 8, b="lin", a="lin", hoist=True, acc_inner=True),
  "t40_subgroup32x8_tex_b_packed_acc_inner.wgsl": subgroup_tex(32, 8, b="pack", a="lin", hoist=True, acc_inner=True),
  "t41_subgroup64x8_tex_b_packed_acc_inner.wgsl": subgroup_tex(64, 8, b="pack", a="lin", hoist=True, acc_inner=True),
  "t42_subgroup32x8_tex_ab_linear_acc_inner_unroll2.wgsl": subgroup_tex(32, 8, b="lin", a="lin", hoist=True, acc_inner=True, unroll=2),
  "t43_subgroup64x8_tex_ab_linear_acc_inner_unroll2.wgsl": subgroup_tex(64, 8, b="lin", a="lin", hoist=True, acc_inner=True, unroll=2),
  "t44_subgroup32x8_tex_b_packed_acc_inner_unroll2.wgsl": subgroup_tex(32, 8, b="pack", a="lin", hoist=True, acc_inner=True, unroll=2),
  "t45_subgroup64x8_tex_b_packed_acc_inner_unroll2.wgsl": subgroup_tex(64, 8, b="pack", a="lin", hoist=True, acc_inner=True, unroll=2),
}
sel = sys.argv[2].split(",") if len(sys.argv) > 2 else None
for name, text in out.items():
    if sel is None or any(name.startswith(s) for s in sel):
        (D / name).write_text(text)
