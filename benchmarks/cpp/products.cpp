// One kernel's n×n products, hot, timed in C++: the rate a back end reaches when nothing but its
// products run. Built with -DDEEPLINEAR_BENCHMARKS=ON:
//   products N [seconds=0.3] [backends=packed,blas] [ops=nn,tn,nt] [rounds=7] [isa=auto]
// For each op (n: op(x) = x, t: op(x) = xᵀ, for the left and the right factor) and back end,
// `rounds` timings of about `seconds` each, the back ends alternating within a round; prints the
// median and range of GFLOP/s (2n³ flops a product). One Products object per back end serves
// every product, as in a training step: its panels and buffers are made once, outside the timing.
// (`_core.gemm` makes its outputs and a Products per call: at n = 512 on the AMD Zen 4 of
// docs/performance.md that cost it about an eighth of the rate printed here.)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deeplinear/execution.hpp>
#include <deeplinear/gemm.hpp>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace deeplinear;

namespace {

std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> items;
    std::stringstream stream(text);
    for (std::string item; std::getline(stream, item, ',');) {
        if (!item.empty()) items.push_back(item);
    }
    return items;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: products N [seconds] [backends] [ops] [rounds] [isa]\n");
        return 2;
    }
    const Index n = std::atol(argv[1]);
    const double seconds = argc > 2 ? std::atof(argv[2]) : 0.3;
    const auto backends = split(argc > 3 ? argv[3] : "packed,blas");
    const auto ops = split(argc > 4 ? argv[4] : "nn,tn,nt");
    const int rounds = argc > 5 ? std::atoi(argv[5]) : 7;
    const std::string isa = argc > 6 ? argv[6] : "auto";
    if (n < 1 || seconds <= 0 || rounds < 1 || backends.empty() || ops.empty()) {
        std::fprintf(stderr, "products: N, seconds and rounds must be positive\n");
        return 2;
    }
    for (const auto& op : ops) {
        if (op.size() != 2 || op.find_first_not_of("nt") != std::string::npos) {
            std::fprintf(stderr, "products: an op is two letters of n and t, got '%s'\n", op.c_str());
            return 2;
        }
    }

    std::mt19937_64 rng(1);
    std::normal_distribution<double> normal;
    const auto size = static_cast<std::size_t>(n * n);
    std::vector<double> a(size), b(size), c(size), scratch(size);
    for (auto& x : a) x = normal(rng);
    for (auto& x : b) x = normal(rng);
    std::vector<std::unique_ptr<Products<double>>> products;
    for (const auto& backend : backends) {
        try {
            products.push_back(std::make_unique<Products<double>>(ExecutionContext::make(1, isa, backend), n));
        } catch (const std::exception& error) {
            std::fprintf(stderr, "products: %s\n", error.what());
            return 2;
        }
    }
    const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
    for (const auto& op : ops) {
        const bool trans_a = op[0] == 't', trans_b = op[1] == 't';
        std::vector<std::vector<double>> rates(backends.size());
        std::vector<long> counts(backends.size(), 0);
        for (int round = 0; round < rounds; ++round) {
            for (std::size_t k = 0; k < backends.size(); ++k) {
                auto run = [&](long count) {
                    const auto start = std::chrono::steady_clock::now();
                    for (long r = 0; r < count; ++r) {
                        products[k]->multiply(a.data(), trans_a, b.data(), trans_b, c.data(), scratch.data());
                    }
                    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                };
                if (counts[k] == 0) {  // the first product warms up and sizes the count
                    counts[k] = std::max(1L, static_cast<long>(seconds / std::max(run(1), 1e-9)));
                }
                rates[k].push_back(static_cast<double>(counts[k]) * flops / run(counts[k]) / 1e9);
            }
        }
        for (std::size_t k = 0; k < backends.size(); ++k) {
            auto values = rates[k];
            std::sort(values.begin(), values.end());
            const Backend backend = products[k]->backend();  // (the BLAS runs its own kernels)
            std::printf("n=%ld op=%s %s/%s: %.1f GFLOP/s (%.1f-%.1f), median of %d rounds\n", static_cast<long>(n),
                        op.c_str(), name(backend), backend == Backend::blas ? "blas" : name(products[k]->isa()),
                        values[values.size() / 2], values.front(), values.back(), rounds);
        }
    }
    return 0;
}
