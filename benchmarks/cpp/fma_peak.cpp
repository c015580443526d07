// The multiply-adds a core completes per second when it does nothing else: independent chains of
// float64 FMAs on the widest vectors the CPU has (AVX-512, else AVX2 with FMA), 12 accumulators
// (more than latency × throughput on current x86 cores). Built with -DDEEPLINEAR_BENCHMARKS=ON:
//   fma_peak [seconds=0.5] [rounds=5]
// prints GFLOP/s (2 flops per lane per FMA) and the clock it implies for the instruction set's
// FMAs per cycle. Unlike the FMA limit that benchmarks/compare.py derives from /proc/cpuinfo's
// base clock, this includes the boost clock: the ceiling no product of n×n matrices can pass.
#include <immintrin.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

constexpr int kChains = 12;

// `iterations` rounds of kChains FMAs; return their sum (so that nothing is optimized away). The
// same loop twice, in intrinsics: GCC's generic vectors, one template for both, lost a chain.
__attribute__((target("avx512f"))) double fma_avx512(long iterations) {
    __m512d acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_pd(1e-3 * i);
    const __m512d x = _mm512_set1_pd(0.9999999), y = _mm512_set1_pd(1e-9);
    for (long n = 0; n < iterations; ++n) {
#pragma GCC unroll 12
        for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_pd(acc[i], x, y);
    }
    // (Stored, not _mm512_reduce_add_pd: GCC 12's trips -Wuninitialized, GCC bug 105593.)
    alignas(64) double lanes[8];
    double sum = 0;
    for (int i = 0; i < kChains; ++i) {
        _mm512_store_pd(lanes, acc[i]);
        for (double lane : lanes) sum += lane;
    }
    return sum;
}

__attribute__((target("avx2,fma"))) double fma_avx2(long iterations) {
    __m256d acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_pd(1e-3 * i);
    const __m256d x = _mm256_set1_pd(0.9999999), y = _mm256_set1_pd(1e-9);
    for (long n = 0; n < iterations; ++n) {
#pragma GCC unroll 12
        for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_pd(acc[i], x, y);
    }
    alignas(32) double lanes[4];
    double sum = 0;
    for (int i = 0; i < kChains; ++i) {
        _mm256_store_pd(lanes, acc[i]);
        for (double lane : lanes) sum += lane;
    }
    return sum;
}

}  // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
    if (seconds <= 0 || rounds < 1) {
        std::fprintf(stderr, "usage: fma_peak [seconds] [rounds]\n");
        return 2;
    }
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f");
    if (!avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        std::fprintf(stderr, "fma_peak: this CPU has neither AVX-512 nor AVX2 with FMA\n");
        return 2;
    }
    const int lanes = avx512 ? 8 : 4;
    auto run = [&](long iterations) { return avx512 ? fma_avx512(iterations) : fma_avx2(iterations); };
    auto timed = [&](long iterations, double& sink) {
        const auto start = std::chrono::steady_clock::now();
        sink += run(iterations);
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    double sink = 0;
    long iterations = 1 << 20;
    const double first = timed(iterations, sink);  // warms up; sizes the rounds
    iterations = std::max(1L, static_cast<long>(static_cast<double>(iterations) * seconds / std::max(first, 1e-9)));
    std::vector<double> rates;
    for (int round = 0; round < rounds; ++round) {
        const double elapsed = timed(iterations, sink);
        rates.push_back(static_cast<double>(iterations) * kChains * lanes * 2 / elapsed / 1e9);
    }
    std::sort(rates.begin(), rates.end());
    const double median = rates[rates.size() / 2];
    // Two FMA instructions a cycle on the vector width (Intel's two 512-bit units; AMD's Zen 4
    // runs a 512-bit FMA in two 256-bit halves on its two units: one a cycle).
    std::printf(
        "%s float64 FMA: %.1f GFLOP/s (%.1f-%.1f), median of %d rounds; %.2f GHz at 2 FMA units of its "
        "width, %.2f GHz at one (checksum %g)\n",
        avx512 ? "AVX-512" : "AVX2", median, rates.front(), rates.back(), rounds, median / (2.0 * lanes * 2),
        median / (lanes * 2), sink);
    return 0;
}
