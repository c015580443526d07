// Whole GD steps timed in C++, without Python: the harness behind the kernel measurements of
// cpp/kernels/tuning.hpp and docs/performance.md. Built with -DDEEPLINEAR_BENCHMARKS=ON:
//   gd_steps D L [seconds=0.5] [isa=auto] [backend=auto] [threads=1] [rounds=5] [split=timed]
// prints steps/s (median and range of `rounds` timings) and GFLOP/s counting the 3(L − 1)
// products of 2d³ flops that a step makes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deeplinear/execution.hpp>
#include <deeplinear/fixed_stepper.hpp>
#include <deeplinear/loop.hpp>
#include <deeplinear/methods.hpp>
#include <random>
#include <string>
#include <vector>

using namespace deeplinear;

namespace {

template <class Stepper>
double steps_per_second(Stepper& stepper, std::int64_t steps) {
    const auto start = std::chrono::steady_clock::now();
    for (std::int64_t t = 0; t < steps; ++t) {
        stepper.evaluate();
        stepper.advance();
    }
    return static_cast<double>(steps) / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: gd_steps D L [seconds] [isa] [backend] [threads] [rounds] [split]\n");
        return 2;
    }
    const Index dim = std::atol(argv[1]), depth = std::atol(argv[2]);
    const double seconds = argc > 3 ? std::atof(argv[3]) : 0.5;
    const std::string isa = argc > 4 ? argv[4] : "auto", backend = argc > 5 ? argv[5] : "auto";
    const int threads = argc > 6 ? std::atoi(argv[6]) : 1, rounds = argc > 7 ? std::atoi(argv[7]) : 5;
    const std::string split = argc > 8 ? argv[8] : "timed";
    const ExecutionContext context = ExecutionContext::make(threads, isa, backend, split);

    // Φ near I (the step size keeps every run finite), layers from the identity
    std::mt19937_64 rng(1);
    std::normal_distribution<double> normal;
    Matrix<double> phi = Matrix<double>::Identity(dim, dim);
    for (Index i = 0; i < dim * dim; ++i) phi.data()[i] += 0.1 * normal(rng) / std::sqrt(double(dim));
    std::vector<double> layers(static_cast<std::size_t>(depth * dim * dim));
    for (Index l = 0; l < depth; ++l) {
        for (Index i = 0; i < dim; ++i) layers[static_cast<std::size_t>(l * dim * dim + i * dim + i)] = 1.0;
    }
    MethodParams<double> params;
    params.lr = 0.01 / double(depth);
    const LayerStack<double> stack{layers.data(), depth, dim};
    const ConstMatrixMap<double> phi_map(phi.data(), dim, dim);
    const Backend chosen = choose_backend(context, dim, Dtype::float64, true);

    auto run = [&](auto& stepper) {
        std::int64_t steps = 1;
        while (true) {  // calibrate: steps for about `seconds`
            const double rate = steps_per_second(stepper, steps);
            if (static_cast<double>(steps) / rate > 0.1 * seconds) {
                steps = std::max<std::int64_t>(1, static_cast<std::int64_t>(rate * seconds));
                break;
            }
            steps *= 4;
        }
        std::vector<double> rates;
        for (int r = 0; r < rounds; ++r) rates.push_back(steps_per_second(stepper, steps));
        std::sort(rates.begin(), rates.end());
        const double median = rates[rates.size() / 2];
        const double flops = 3.0 * double(depth - 1) * 2.0 * double(dim) * double(dim) * double(dim);
        std::printf("d=%ld L=%ld %s/%s threads=%d split=%s: %.1f steps/s (%.1f-%.1f) %.1f GFLOP/s\n", long(dim),
                    long(depth), name(chosen), name(context.isa), context.threads, name(context.split), median,
                    rates.front(), rates.back(), median * flops / 1e9);
    };
    if (chosen == Backend::fixed) {
        FixedStepper<double> stepper(stack, phi_map, params, context);
        run(stepper);
    } else {
        DenseStepper<double> stepper(stack, phi_map, params, context);
        run(stepper);
    }
    return 0;
}
