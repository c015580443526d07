// A small simulator that embeds deeplinear's C++ core (no Python): an agent whose linear model
// Θ_L ⋯ Θ_1 learns the map Φ of its world by gradient descent from the identity, one step per tick
// between the world's own work, then a population of agents trained side by side as a batch.
//
// Build and run (see CMakeLists.txt beside this file):
//   cmake -S examples/cpp -B build/example && cmake --build build/example && ctest --test-dir build/example
//
// Exits 1 if what it checks does not hold: the agent learns Φ (loss below 1e-10), and every agent
// of the batch ends exactly where the same agent trained alone ends.
#include <deeplinear/batch.hpp>
#include <deeplinear/engine.hpp>
#include <deeplinear/execution.hpp>
#include <deeplinear/trainer.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

namespace dl = deeplinear;

namespace {

constexpr dl::Index kDim = 4, kDepth = 8;

// The world's map: a symmetric positive definite Φ with eigenvalues in [0.5, 2] in a rotated
// basis (a deterministic rotation by `angle` in the planes (0, 1) and (2, 3)).
std::vector<double> world_map(double angle) {
    const double c = std::cos(angle), s = std::sin(angle);
    const double eigen[kDim] = {0.5, 0.9, 1.4, 2.0};
    double q[kDim][kDim] = {{c, -s, 0, 0}, {s, c, 0, 0}, {0, 0, c, -s}, {0, 0, s, c}};
    std::vector<double> phi(kDim * kDim, 0.0);
    for (dl::Index i = 0; i < kDim; ++i) {
        for (dl::Index j = 0; j < kDim; ++j) {
            for (dl::Index k = 0; k < kDim; ++k) phi[i * kDim + j] += q[i][k] * eigen[k] * q[j][k];
        }
    }
    return phi;
}

std::vector<double> identity_layers() {
    std::vector<double> layers(kDepth * kDim * kDim, 0.0);
    for (dl::Index l = 0; l < kDepth; ++l) {
        for (dl::Index i = 0; i < kDim; ++i) layers[(l * kDim + i) * kDim + i] = 1.0;
    }
    return layers;
}

// One agent: its layers (owned here, stepped in place by the trainer) and its trainer.
struct Agent {
    std::vector<double> layers = identity_layers();
    std::unique_ptr<dl::Trainer<double>> trainer;

    Agent(const std::vector<double>& phi, double lr, const dl::ExecutionContext& context) {
        dl::MethodParams<double> params;
        params.method = dl::Method::gd;
        params.lr = lr;
        auto engine = dl::make_engine<double>({layers.data(), kDepth, kDim}, phi.data(), params, context);
        dl::TrainerSettings settings;
        settings.record_every = 100;
        trainer = std::make_unique<dl::Trainer<double>>(layers.data(), layers.size(), std::move(engine), settings);
    }
};

}  // namespace

int main() {
    const auto context = dl::ExecutionContext::make(1);  // one thread, the best kernels here
    const std::vector<double> phi = world_map(0.3);
    const double lr = 0.02;

    // 1. One agent stepped once per tick, between the world's own work.
    Agent agent(phi, lr, context);
    double world = 0.0;
    for (int tick = 0; tick < 4000; ++tick) {
        world += std::sin(0.001 * tick);  // the simulator's own work
        agent.trainer->run(1, 0.0, false);
    }
    const double loss = agent.trainer->loss();
    std::printf("one agent: %lld steps, loss %.3e (world state %.3f)\n", static_cast<long long>(agent.trainer->steps()),
                loss, world);

    // 2. A population: 20 agents with their own step sizes, trained as one batch (on this machine,
    // small networks go through the SIMD lanes 8 or 4 at a time).
    const int count = 20;
    std::vector<std::vector<double>> maps;
    std::vector<double> rates;
    for (int b = 0; b < count; ++b) {
        maps.push_back(world_map(0.05 * b));
        rates.push_back(0.01 + 0.0005 * b);
    }
    std::vector<double> population(count * kDepth * kDim * kDim);
    dl::BatchTrainer<double> batch(context);
    for (int b = 0; b < count; ++b) {
        double* layers = population.data() + b * kDepth * kDim * kDim;
        const std::vector<double> start = identity_layers();
        std::copy(start.begin(), start.end(), layers);
        dl::MethodParams<double> params;
        params.lr = rates[b];
        dl::ExecutionContext single = context;
        auto engine = dl::make_engine<double>({layers, kDepth, kDim}, maps[b].data(), params, single);
        batch.add(std::make_unique<dl::Trainer<double>>(layers, kDepth * kDim * kDim, std::move(engine),
                                                        dl::TrainerSettings{}),
                  maps[b].data(), params);
    }
    batch.set_shape(kDepth, kDim);
    std::vector<std::int64_t> budget(count, 3000);
    std::vector<double> tol(count, 0.0);
    std::vector<dl::LoopResult> results(count);
    batch.run(budget.data(), tol.data(), true, {}, results.data());
    std::printf("a batch of %d agents: %s, final losses %.3e ... %.3e\n", count,
                batch.uses_lanes() ? "in SIMD lanes" : "one by one", results.front().loss, results.back().loss);

    // Checks: the agent learned Φ; each agent of the batch equals the same agent trained alone.
    bool ok = loss < 1e-10;
    for (int b = 0; b < count; b += 7) {
        Agent alone(maps[b], rates[b], context);
        alone.trainer->run(3000, 0.0, true);
        const double* mine = population.data() + b * kDepth * kDim * kDim;
        for (std::size_t e = 0; e < alone.layers.size(); ++e) ok = ok && alone.layers[e] == mine[e];
    }
    std::printf("%s\n", ok ? "checks pass" : "CHECKS FAIL");
    return ok ? 0 : 1;
}
