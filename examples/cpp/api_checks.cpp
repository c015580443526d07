// What the C++ core refuses: engines with a shape, a method or a parameter out of range, batches
// whose networks differ in shape, method or diagnostics, and an interrupt callback that throws
// on a batch's threads. Each must end in std::invalid_argument (or the callback's exception),
// never in a crash, a hang or a silently wrong run. Run by ctest beside the simulator; exits 1
// (naming the case) if one does not.
#include <deeplinear/batch.hpp>
#include <deeplinear/engine.hpp>
#include <deeplinear/execution.hpp>
#include <deeplinear/trainer.hpp>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace dl = deeplinear;

namespace {

int failures = 0;

// `action` must throw an E; reports the case otherwise.
template <class E = std::invalid_argument>
void expect_throw(const char* name, const std::function<void()>& action) {
    try {
        action();
    } catch (const E& error) {
        std::printf("ok: %s (%s)\n", name, error.what());
        return;
    } catch (const std::exception& error) {
        std::printf("FAILED: %s threw another exception: %s\n", name, error.what());
        ++failures;
        return;
    }
    std::printf("FAILED: %s was accepted\n", name);
    ++failures;
}

// A network of shape (depth, dim) from the identity towards 1.5·I, with its own buffers.
struct Network {
    std::vector<double> layers, phi;
    dl::MethodParams<double> params;
    std::unique_ptr<dl::Trainer<double>> trainer;

    Network(dl::Index depth, dl::Index dim, dl::Method method, bool diagnostics, const dl::ExecutionContext& context)
        : layers(static_cast<std::size_t>(depth * dim * dim), 0.0), phi(static_cast<std::size_t>(dim * dim), 0.0) {
        for (dl::Index i = 0; i < dim; ++i) phi[static_cast<std::size_t>(i * dim + i)] = 1.5;
        for (dl::Index l = 0; l < depth; ++l) {
            for (dl::Index i = 0; i < dim; ++i) layers[static_cast<std::size_t>((l * dim + i) * dim + i)] = 1.0;
        }
        params.method = method;
        params.lr = 0.01;
        params.kappa = 0.5;
        params.psi = 0.5;
        params.gamma = 1.0;
        auto engine = dl::make_engine<double>({layers.data(), depth, dim}, phi.data(), params, context);
        dl::TrainerSettings settings;
        settings.diagnostics = diagnostics;
        trainer = std::make_unique<dl::Trainer<double>>(layers.data(), layers.size(), std::move(engine), settings);
    }
};

void check_engines(const dl::ExecutionContext& context) {
    std::vector<double> layers(2 * 3 * 3, 0.0), phi(9, 0.0);
    auto engine = [&](dl::Index depth, dl::Index dim, const dl::MethodParams<double>& params) {
        return [&, depth, dim, params] {
            dl::make_engine<double>({layers.data(), depth, dim}, phi.data(), params, context);
        };
    };
    dl::MethodParams<double> gd;
    gd.lr = 0.1;
    expect_throw("an engine of depth 0", engine(0, 3, gd));
    expect_throw("an engine of d = 0", engine(2, 0, gd));
    expect_throw("an engine whose L·d² overflows", engine(2, dl::Index(1) << 32, gd));
    dl::MethodParams<double> bad = gd;
    bad.lr = std::nan("");
    expect_throw("lr = NaN", engine(2, 3, bad));
    bad.lr = 0.0;
    expect_throw("lr = 0", engine(2, 3, bad));
    bad = gd;
    bad.method = dl::Method::power_projection;
    bad.gamma = 0.0;
    expect_throw("power projection with gamma = 0", engine(2, 3, bad));
    bad = gd;
    bad.method = dl::Method::step_and_project;
    bad.psi = -1.0;
    expect_throw("step-and-project with psi < 0", engine(2, 3, bad));
    bad = gd;
    bad.method = dl::Method::penalty;
    bad.kappa = std::nan("");
    expect_throw("penalty with kappa = NaN", engine(2, 3, bad));
    bad = gd;
    bad.method = static_cast<dl::Method>(17);
    expect_throw("an unknown method", engine(2, 3, bad));
    expect_throw("a trainer whose state is not the engine's shape", [&] {
        auto made = dl::make_engine<double>({layers.data(), 2, 3}, phi.data(), gd, context);
        dl::Trainer<double> trainer(layers.data(), 9, std::move(made), dl::TrainerSettings{});
    });
}

void check_batches(const dl::ExecutionContext& context) {
    // Each case: a batch of network 0 (depth 3, d 4, gd) and one network that differs.
    auto mixed = [&](dl::Index depth, dl::Index dim, dl::Method method, bool diagnostics) {
        return [=] {
            Network first(3, 4, dl::Method::gd, false, context), second(depth, dim, method, diagnostics, context);
            dl::BatchTrainer<double> batch(context);
            batch.add(std::move(first.trainer), first.phi.data(), first.params);
            batch.add(std::move(second.trainer), second.phi.data(), second.params);
        };
    };
    expect_throw("a batch of d = 4 and d = 3", mixed(3, 3, dl::Method::gd, false));
    expect_throw("a batch of depth 3 and depth 2", mixed(2, 4, dl::Method::gd, false));
    expect_throw("a batch of depth 3, d 4 and depth 12, d 2 (the same state size)",
                 mixed(12, 2, dl::Method::gd, false));
    expect_throw("a batch of gd and step-and-project", mixed(3, 4, dl::Method::step_and_project, false));
    expect_throw("a batch of gd and penalty", mixed(3, 4, dl::Method::penalty, false));
    expect_throw("a batch with diagnostics for one network", mixed(3, 4, dl::Method::gd, true));
    expect_throw("set_shape other than the networks'", [&] {
        Network first(3, 4, dl::Method::gd, false, context);
        dl::BatchTrainer<double> batch(context);
        batch.add(std::move(first.trainer), first.phi.data(), first.params);
        batch.set_shape(3, 5);
    });

    // An interrupt callback that throws, polled by the calling thread while another steps:
    // its exception comes out of run() (it ended the process with std::terminate).
    std::vector<Network> networks;
    networks.reserve(4);
    dl::BatchTrainer<double> batch(context);
    for (int b = 0; b < 4; ++b) {
        networks.emplace_back(3, 40, dl::Method::gd, false, context);
        batch.add(std::move(networks.back().trainer), networks.back().phi.data(), networks.back().params);
    }
    std::vector<std::int64_t> budget(4, 200000);
    std::vector<double> tol(4, 0.0);
    std::vector<dl::LoopResult> results(4);
    const dl::Interrupt throwing = []() -> bool { throw std::runtime_error("the simulator stops"); };
    expect_throw<std::runtime_error>("an interrupt callback that throws on a batch's threads",
                                     [&] { batch.run(budget.data(), tol.data(), false, throwing, results.data()); });
}

}  // namespace

int main() {
    const auto one = dl::ExecutionContext::make(1), two = dl::ExecutionContext::make(2);
    check_engines(one);
    check_batches(one);
    check_batches(two);
    if (failures > 0) {
        std::printf("%d case(s) FAILED\n", failures);
        return 1;
    }
    std::printf("every misuse was refused\n");
    return 0;
}
