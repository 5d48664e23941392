//! The machine's matrix-multiply rate through the embedder's own math library, the yardstick of
//! the embedder's efficiency (`make bench-knowledge`).

use std::time::Instant;

use candle_core::{Device, Tensor};

/// The best rate, in FLOP/s, of `rounds` rounds of `(n × n) · (n × n)` single-precision products
/// through candle (the `gemm` crate, on rayon's global pool: every core), counting `2·n³` per
/// product. One product runs first, untimed, to warm the caches and the threads.
pub fn matmul_rate(n: usize, rounds: usize) -> Result<f64, String> {
    let failed = |e: candle_core::Error| format!("the matrix product failed: {e}");
    let a = Tensor::randn(0f32, 1.0, (n, n), &Device::Cpu).map_err(failed)?;
    let b = Tensor::randn(0f32, 1.0, (n, n), &Device::Cpu).map_err(failed)?;
    a.matmul(&b).map_err(failed)?;
    let mut best = 0f64;
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        let product = a.matmul(&b).map_err(failed)?;
        let seconds = started.elapsed().as_secs_f64();
        drop(product);
        best = best.max(2.0 * (n as f64).powi(3) / seconds);
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_product_has_a_positive_finite_rate() {
        let rate = matmul_rate(64, 2).unwrap();
        assert!(rate.is_finite() && rate > 0.0, "{rate}");
    }
}
