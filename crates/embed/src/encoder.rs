//! all-MiniLM-L6-v2's BERT encoder, shaped for the CPU.
//!
//! The same arithmetic as `candle_transformers::models::bert::BertModel` (kept as the reference
//! in [`crate::minilm`]), arranged so that nearly all the time is spent in large matrix
//! multiplications:
//!
//! - **No padding.** The texts of a batch are packed one after another into a single
//!   `(tokens, 384)` matrix; attention runs per text over its own tokens, so there is no mask and
//!   no work on padding.
//! - **Large products.** Every linear layer is one `(tokens, in) × (in, out)` product through
//!   candle (the `gemm` crate, with its AVX-512 kernels where the CPU has them); query, key and
//!   value are one product with their weights side by side.
//! - **Fused passes.** What lies between the products runs as one parallel pass each: the
//!   attention (bias, scores, softmax and the weighted sum, per text and head), the residual add
//!   with layer norm, and the bias with GELU. Their loops are compiled for the CPU's vector
//!   instructions through `pulp`'s runtime dispatch, with a polynomial `exp` and `erf` accurate to
//!   a few units in the last place of what the rest of the sum keeps.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Device, Layout, Shape, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use pulp::{Simd, WithSimd};
use rayon::prelude::*;

/// The encoder's weights, laid out for [`Encoder::forward`].
pub(crate) struct Encoder {
    word: Tensor,
    position: Tensor,
    /// Token type 0's embedding plus nothing else: every token is type 0.
    embedding_norm: AddNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
    max_positions: usize,
    device: Device,
}

struct Layer {
    /// (hidden, 3 × hidden): query, key and value weights, transposed, side by side.
    qkv: Tensor,
    attention: Attention,
    /// (hidden, hidden), transposed.
    output: Tensor,
    output_norm: AddNorm,
    /// (hidden, intermediate), transposed.
    up: Tensor,
    up_gelu: BiasGelu,
    /// (intermediate, hidden), transposed.
    down: Tensor,
    down_norm: AddNorm,
}

/// A weight matrix `(out, in)` as stored by PyTorch, turned into the `(in, out)` right-hand side
/// of `x · Wᵀ`.
fn transposed(weight: Tensor) -> candle_core::Result<Tensor> {
    weight.t()?.contiguous()
}

fn vector(vb: &VarBuilder, size: usize, name: &str) -> candle_core::Result<Vec<f32>> {
    vb.get(size, name)?.to_vec1::<f32>()
}

fn norm(vb: &VarBuilder, size: usize, bias: Vec<f32>, eps: f64) -> candle_core::Result<AddNorm> {
    Ok(AddNorm {
        bias,
        gamma: vector(vb, size, "weight")?,
        beta: vector(vb, size, "bias")?,
        eps: eps as f32,
    })
}

impl Encoder {
    /// Reads the weights from `vb` (a BERT checkpoint with or without the `bert.` prefix).
    pub(crate) fn load(vb: VarBuilder, config: &Config) -> candle_core::Result<Self> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let hidden = config.hidden_size;
        let intermediate = config.intermediate_size;
        let heads = config.num_attention_heads;
        if heads == 0 || !hidden.is_multiple_of(heads) {
            candle_core::bail!("{hidden} hidden units do not split into {heads} heads");
        }
        let eps = config.layer_norm_eps;
        let embeddings = vb.pp("embeddings");
        let word = embeddings.get((config.vocab_size, hidden), "word_embeddings.weight")?;
        let position = embeddings.get(
            (config.max_position_embeddings, hidden),
            "position_embeddings.weight",
        )?;
        let token_type = embeddings
            .get(
                (config.type_vocab_size, hidden),
                "token_type_embeddings.weight",
            )?
            .get(0)?
            .to_vec1::<f32>()?;
        let embedding_norm = norm(&embeddings.pp("LayerNorm"), hidden, token_type, eps)?;

        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let layer = vb.pp(format!("encoder.layer.{i}"));
            let attention = layer.pp("attention");
            let own = attention.pp("self");
            let mut qkv = Vec::with_capacity(3);
            let mut qkv_bias = Vec::with_capacity(3 * hidden);
            for part in ["query", "key", "value"] {
                let linear = own.pp(part);
                qkv.push(linear.get((hidden, hidden), "weight")?);
                qkv_bias.extend(vector(&linear, hidden, "bias")?);
            }
            let qkv = transposed(Tensor::cat(&qkv, 0)?)?;
            let output = attention.pp("output");
            let output_bias = vector(&output.pp("dense"), hidden, "bias")?;
            let up = layer.pp("intermediate").pp("dense");
            let down = layer.pp("output");
            let down_bias = vector(&down.pp("dense"), hidden, "bias")?;
            layers.push(Layer {
                qkv,
                attention: Attention {
                    bias: qkv_bias,
                    heads,
                    head_size: hidden / heads,
                },
                output: transposed(output.pp("dense").get((hidden, hidden), "weight")?)?,
                output_norm: norm(&output.pp("LayerNorm"), hidden, output_bias, eps)?,
                up: transposed(up.get((intermediate, hidden), "weight")?)?,
                up_gelu: BiasGelu {
                    bias: vector(&up, intermediate, "bias")?,
                },
                down: transposed(down.pp("dense").get((hidden, intermediate), "weight")?)?,
                down_norm: norm(&down.pp("LayerNorm"), hidden, down_bias, eps)?,
            });
        }
        Ok(Self {
            word,
            position,
            embedding_norm,
            layers,
            heads,
            head_size: hidden / heads,
            max_positions: config.max_position_embeddings,
            device: vb.device().clone(),
        })
    }

    /// The hidden states of every token of `texts` (token ids, special tokens included), packed:
    /// `(Σ lengths, hidden)`, text after text.
    pub(crate) fn forward(&self, texts: &[&[u32]]) -> candle_core::Result<Tensor> {
        let lengths: Vec<usize> = texts.iter().map(|t| t.len()).collect();
        if let Some(&longest) = lengths.iter().max()
            && longest > self.max_positions
        {
            candle_core::bail!(
                "a text of {longest} tokens is longer than the model's {} positions",
                self.max_positions
            );
        }
        let total: usize = lengths.iter().sum();
        let ids: Vec<u32> = texts.iter().flat_map(|t| t.iter().copied()).collect();
        let positions: Vec<u32> = lengths
            .iter()
            .flat_map(|&length| 0..length as u32)
            .collect();
        let ids = Tensor::from_vec(ids, total, &self.device)?;
        let positions = Tensor::from_vec(positions, total, &self.device)?;
        let words = self.word.index_select(&ids, 0)?;
        let places = self.position.index_select(&positions, 0)?;
        let mut x = words.apply_op2_no_bwd(&places, &self.embedding_norm)?;
        for layer in &self.layers {
            x = layer.forward(&x, &lengths)?;
        }
        Ok(x)
    }

    /// Multiply-adds × 2 of one forward pass over texts of these token counts: the products
    /// (4·h² + 2·h·i per token and layer) and attention (2·n²·h per text and layer).
    pub(crate) fn flops(&self, lengths: impl IntoIterator<Item = usize>) -> f64 {
        let hidden = (self.heads * self.head_size) as f64;
        let intermediate = self
            .layers
            .first()
            .map_or(0.0, |l| l.up_gelu.bias.len() as f64);
        let per_token = 2.0 * (4.0 * hidden * hidden + 2.0 * hidden * intermediate);
        let layers = self.layers.len() as f64;
        lengths
            .into_iter()
            .map(|n| {
                let n = n as f64;
                layers * (n * per_token + 2.0 * 2.0 * n * n * hidden)
            })
            .sum()
    }
}

impl Layer {
    fn forward(&self, x: &Tensor, lengths: &[usize]) -> candle_core::Result<Tensor> {
        let context = x.matmul(&self.qkv)?.apply_op1_no_bwd(&Attend {
            attention: &self.attention,
            lengths,
        })?;
        let attended = context
            .matmul(&self.output)?
            .apply_op2_no_bwd(x, &self.output_norm)?;
        let up = attended.matmul(&self.up)?.apply_op1_no_bwd(&self.up_gelu)?;
        up.matmul(&self.down)?
            .apply_op2_no_bwd(&attended, &self.down_norm)
    }
}

/// The contiguous `f32` data of a tensor handed to a custom op.
fn f32s<'a>(storage: &'a CpuStorage, layout: &Layout) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("the encoder runs in f32");
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("the encoder's custom ops take contiguous tensors"),
    }
}

/// `(rows, columns)` of a 2-D layout.
fn matrix(layout: &Layout) -> candle_core::Result<(usize, usize)> {
    layout.shape().dims2()
}

/// Rows per parallel task of the row-wise passes: enough to amortize the task, few enough to
/// share the rows between the cores.
const ROWS_PER_TASK: usize = 16;

/// `layer_norm(x + residual + bias)`, row by row.
struct AddNorm {
    bias: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl CustomOp2 for AddNorm {
    fn name(&self) -> &'static str {
        "add-bias-residual-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, width) = matrix(l1)?;
        if matrix(l2)? != (rows, width) || width != self.gamma.len() {
            candle_core::bail!("layer norm over mismatched shapes");
        }
        let (x, residual) = (f32s(s1, l1)?, f32s(s2, l2)?);
        let mut out = vec![0f32; rows * width];
        out.par_chunks_mut(width * ROWS_PER_TASK)
            .zip(x.par_chunks(width * ROWS_PER_TASK))
            .zip(residual.par_chunks(width * ROWS_PER_TASK))
            .for_each(|((out, x), residual)| {
                pulp::Arch::new().dispatch(AddNormRows {
                    norm: self,
                    out,
                    x,
                    residual,
                })
            });
        Ok((CpuStorage::F32(out), Shape::from((rows, width))))
    }
}

/// [`AddNorm`] over a run of rows, compiled for the CPU's vector instructions.
struct AddNormRows<'a> {
    norm: &'a AddNorm,
    out: &'a mut [f32],
    x: &'a [f32],
    residual: &'a [f32],
}

impl WithSimd for AddNormRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) {
        let width = self.norm.gamma.len();
        for ((out, x), residual) in self
            .out
            .chunks_exact_mut(width)
            .zip(self.x.chunks_exact(width))
            .zip(self.residual.chunks_exact(width))
        {
            add_norm_row(out, x, residual, self.norm);
        }
    }
}

#[inline(always)]
fn add_norm_row(out: &mut [f32], x: &[f32], residual: &[f32], norm: &AddNorm) {
    for (((o, &x), &r), &b) in out.iter_mut().zip(x).zip(residual).zip(&norm.bias) {
        *o = x + r + b;
    }
    let width = out.len() as f32;
    let mean = sum(out) / width;
    let mut squares = [0f32; LANES];
    for chunk in out.chunks_mut(LANES) {
        for (o, s) in chunk.iter_mut().zip(&mut squares) {
            *o -= mean;
            *s += *o * *o;
        }
    }
    let scale = 1.0 / (squares.iter().sum::<f32>() / width + norm.eps).sqrt();
    for ((o, &g), &b) in out.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
        *o = *o * scale * g + b;
    }
}

/// `gelu(x + bias)`, the exact (erf) GELU, elementwise.
struct BiasGelu {
    bias: Vec<f32>,
}

impl CustomOp1 for BiasGelu {
    fn name(&self) -> &'static str {
        "add-bias-gelu"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, width) = matrix(layout)?;
        if width != self.bias.len() {
            candle_core::bail!("bias of {} for rows of {width}", self.bias.len());
        }
        let x = f32s(storage, layout)?;
        let mut out = vec![0f32; rows * width];
        out.par_chunks_mut(width * ROWS_PER_TASK)
            .zip(x.par_chunks(width * ROWS_PER_TASK))
            .for_each(|(out, x)| {
                pulp::Arch::new().dispatch(GeluRows {
                    bias: &self.bias,
                    out,
                    x,
                })
            });
        Ok((CpuStorage::F32(out), Shape::from((rows, width))))
    }
}

/// [`BiasGelu`] over a run of rows, compiled for the CPU's vector instructions.
struct GeluRows<'a> {
    bias: &'a [f32],
    out: &'a mut [f32],
    x: &'a [f32],
}

impl WithSimd for GeluRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) {
        let width = self.bias.len();
        for (out, x) in self
            .out
            .chunks_exact_mut(width)
            .zip(self.x.chunks_exact(width))
        {
            for ((o, &x), &b) in out.iter_mut().zip(x).zip(self.bias) {
                *o = gelu(x + b);
            }
        }
    }
}

/// A layer's multi-head self-attention: the query, key and value biases, side by side.
struct Attention {
    bias: Vec<f32>,
    heads: usize,
    head_size: usize,
}

/// [`Attention`] of each text over its own tokens, from the packed `(tokens, 3 × hidden)`
/// query-key-value products (before their bias) to the packed `(tokens, hidden)` context.
struct Attend<'a> {
    attention: &'a Attention,
    /// The texts' token counts, in packing order.
    lengths: &'a [usize],
}

/// One head's attention over one text; a head's vectors are [`HEAD`] wide.
const HEAD: usize = 32;

impl CustomOp1 for Attend<'_> {
    fn name(&self) -> &'static str {
        "packed-self-attention"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let Attention {
            bias,
            heads,
            head_size,
        } = self.attention;
        let (heads, head_size) = (*heads, *head_size);
        let (rows, width) = matrix(layout)?;
        let hidden = heads * head_size;
        if width != 3 * hidden || bias.len() != width {
            candle_core::bail!("attention over {width} columns for {hidden} hidden units");
        }
        if head_size != HEAD {
            candle_core::bail!("attention heads of {} (not {HEAD})", head_size);
        }
        if self.lengths.iter().sum::<usize>() != rows {
            candle_core::bail!("the texts' lengths do not add up to the packed rows");
        }
        let qkv = f32s(storage, layout)?;
        let mut starts = Vec::with_capacity(self.lengths.len());
        let mut start = 0;
        for &length in self.lengths {
            starts.push(start);
            start += length;
        }
        let tasks: Vec<(usize, usize, usize)> = starts
            .iter()
            .zip(self.lengths)
            .filter(|(_, length)| **length > 0)
            .flat_map(|(&start, &length)| (0..heads).map(move |head| (start, length, head)))
            .collect();
        let scale = 1.0 / (head_size as f32).sqrt();
        let contexts: Vec<Vec<f32>> = tasks
            .par_iter()
            .map(|&(start, length, head)| {
                pulp::Arch::new().dispatch(Head {
                    rows: &qkv[start * width..(start + length) * width],
                    width,
                    hidden,
                    head,
                    bias,
                    scale,
                    n: length,
                })
            })
            .collect();
        let mut out = vec![0f32; rows * hidden];
        for (&(start, _, head), context) in tasks.iter().zip(&contexts) {
            for (token, values) in context.chunks_exact(HEAD).enumerate() {
                let at = (start + token) * hidden + head * HEAD;
                out[at..at + HEAD].copy_from_slice(values);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((rows, hidden))))
    }
}

/// Query rows handled together by the score and context kernels.
const BLOCK: usize = 8;

/// `f32`s in one AVX-512 register: the width of the kernels' register blocks.
const LANES: usize = 16;

/// One head over one text of `n` tokens (`rows`, `(n, width)` of query-key-value products):
/// `softmax(q·kᵀ·scale)·v`, as `(n, HEAD)`, compiled for the CPU's vector instructions.
struct Head<'a> {
    rows: &'a [f32],
    width: usize,
    hidden: usize,
    head: usize,
    bias: &'a [f32],
    scale: f32,
    n: usize,
}

impl WithSimd for Head<'_> {
    type Output = Vec<f32>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) -> Vec<f32> {
        attend(self)
    }
}

#[inline(always)]
fn attend(
    Head {
        rows,
        width,
        hidden,
        head,
        bias,
        scale,
        n,
    }: Head,
) -> Vec<f32> {
    let column = |part: usize| part * hidden + head * HEAD;
    let (q_at, k_at, v_at) = (column(0), column(1), column(2));
    let bias_of = |at: usize| -> &[f32] { &bias[at..at + HEAD] };
    // Keys and scores are padded to whole vectors of LANES, queries to whole BLOCKs (zeros).
    let padded = n.div_ceil(LANES) * LANES;
    let blocks = n.div_ceil(BLOCK);
    // Queries (scaled) and values, (tokens, HEAD); keys transposed, (HEAD, padded).
    let mut q = vec![0f32; blocks * BLOCK * HEAD];
    let mut v = vec![0f32; n * HEAD];
    let mut kt = vec![0f32; HEAD * padded];
    for (token, row) in rows.chunks_exact(width).enumerate() {
        let q_row = &mut q[token * HEAD..(token + 1) * HEAD];
        for ((out, &x), &b) in q_row.iter_mut().zip(&row[q_at..]).zip(bias_of(q_at)) {
            *out = (x + b) * scale;
        }
        let v_row = &mut v[token * HEAD..(token + 1) * HEAD];
        for ((out, &x), &b) in v_row.iter_mut().zip(&row[v_at..]).zip(bias_of(v_at)) {
            *out = x + b;
        }
        for (d, (&x, &b)) in row[k_at..k_at + HEAD].iter().zip(bias_of(k_at)).enumerate() {
            kt[d * padded + token] = x + b;
        }
    }

    let mut context = vec![0f32; n * HEAD];
    let mut scores = vec![0f32; BLOCK * padded];
    for block in 0..blocks {
        let first = block * BLOCK;
        let queries = &q.as_chunks::<HEAD>().0[first..first + BLOCK];
        // Scores of BLOCK queries against LANES keys at a time, held in registers.
        for key in (0..padded).step_by(LANES) {
            let mut acc = [[0f32; LANES]; BLOCK];
            for d in 0..HEAD {
                let keys = &kt[d * padded..(d + 1) * padded].as_chunks::<LANES>().0[key / LANES];
                for (r, acc) in acc.iter_mut().enumerate() {
                    let weight = queries[r][d];
                    for (a, &k) in acc.iter_mut().zip(keys) {
                        *a = weight.mul_add(k, *a);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                scores[r * padded + key..r * padded + key + LANES].copy_from_slice(acc);
            }
        }
        let count = BLOCK.min(n - first);
        for r in 0..count {
            softmax(&mut scores[r * padded..r * padded + n]);
        }
        // The weighted sum of the values, BLOCK rows of HEAD in registers.
        let mut acc = [[0f32; HEAD]; BLOCK];
        for (j, value) in v.as_chunks::<HEAD>().0.iter().enumerate() {
            for (r, acc) in acc.iter_mut().enumerate() {
                let p = scores[r * padded + j];
                for (a, &x) in acc.iter_mut().zip(value) {
                    *a = p.mul_add(x, *a);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate().take(count) {
            context[(first + r) * HEAD..(first + r + 1) * HEAD].copy_from_slice(acc);
        }
    }
    context
}

/// The sum of `xs`, in LANES partial sums (so that it vectorizes) added at the end.
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for chunk in chunks.by_ref() {
        for (l, &x) in lanes.iter_mut().zip(chunk) {
            *l += x;
        }
    }
    for (l, &x) in lanes.iter_mut().zip(chunks.remainder()) {
        *l += x;
    }
    lanes.iter().sum()
}

/// The largest of `xs` (`-∞` for none), LANES at a time.
#[inline(always)]
fn max(xs: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for chunk in chunks.by_ref() {
        for (l, &x) in lanes.iter_mut().zip(chunk) {
            *l = l.max(x);
        }
    }
    for (l, &x) in lanes.iter_mut().zip(chunks.remainder()) {
        *l = l.max(x);
    }
    lanes.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

#[inline(always)]
fn softmax(row: &mut [f32]) {
    let max = max(row);
    for s in row.iter_mut() {
        *s = exp(*s - max);
    }
    let inverse = 1.0 / sum(row);
    for s in row.iter_mut() {
        *s *= inverse;
    }
}

/// `eˣ` for `x ≤ 0` down to underflow (and a little above 0), to about 2 ulp, without branches
/// so that it vectorizes: `2ⁿ · e^r` with `n = round(x / ln 2)` and a degree-6 polynomial for
/// `e^r` on `|r| ≤ ln 2 / 2` (Cephes' `expf`).
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n · LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding then subtracting 1.5 · 2²³ rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, x));
    let mut p = 1.987_569_1e-4f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 5e-1);
    let e_r = (p * r).mul_add(r, r) + 1.0;
    let two_n = f32::from_bits(((n as i32 + 127) as u32) << 23);
    e_r * two_n
}

/// The exact GELU, `x · Φ(x) = x/2 · (1 + erf(x/√2))`, with Abramowitz and Stegun's 7.1.26 for
/// erf (absolute error below 1.5·10⁻⁷).
#[inline(always)]
fn gelu(x: f32) -> f32 {
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    let a = z.abs();
    let t = 1.0 / 0.327_591_1f32.mul_add(a, 1.0);
    let mut p = 1.061_405_4f32;
    p = p.mul_add(t, -1.453_152_1);
    p = p.mul_add(t, 1.421_413_7);
    p = p.mul_add(t, -0.284_496_74);
    p = p.mul_add(t, 0.254_829_6);
    let erf_abs = 1.0 - p * t * exp(-a * a);
    let erf = erf_abs.copysign(z);
    0.5 * x * (1.0 + erf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_the_standard_library() {
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x <= 1.0 {
            let (got, want) = (exp(x), x.exp());
            let error = ((got - want) / want).abs();
            worst = worst.max(error);
            x += 0.001_37;
        }
        assert!(worst < 5e-7, "relative error {worst}");
        assert_eq!(exp(-200.0), (-87f32).exp());
    }

    #[test]
    fn gelu_matches_the_erf_definition() {
        // erf through f64's series: x/2 · (1 + erf(x/√2)).
        fn erf(x: f64) -> f64 {
            // Abramowitz and Stegun 7.1.5, the Maclaurin series; converges for |x| < 4.
            let mut term = x;
            let mut sum = x;
            for n in 1..200 {
                term *= -x * x / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        }
        let mut x = -5.0f64;
        while x <= 5.0 {
            let want = 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2));
            let got = gelu(x as f32) as f64;
            // A&S's 1.5e-7 on erf, times x/2, plus f32's rounding of the result.
            let tolerance = 1.5e-7 * x.abs() / 2.0 + want.abs() * f32::EPSILON as f64 + 1e-7;
            assert!(
                (got - want).abs() < tolerance,
                "gelu({x}) = {got}, want {want}"
            );
            x += 0.0173;
        }
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_the_order() {
        let mut row = vec![1.0, 3.0, -2.0, 3.0, 0.5];
        softmax(&mut row);
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6);
        assert!(row[1] > row[0] && row[0] > row[4] && row[4] > row[2]);
        assert_eq!(row[1], row[3]);
    }
}
