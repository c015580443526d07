// Many steps in one call: stop rules, loss recording and interrupt polling for any stepper
// (evaluate() → ℓ of the current state, advance(), revert(), finish(), diagnose(out)).
#pragma once

#include "common.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>

namespace deeplinear {

enum class Status { converged, max_steps, diverged, interrupted };

struct LoopOptions {
    std::int64_t max_steps = 0;        // steps this call may take
    double tol = 0.0;                  // stop once ℓ <= tol
    std::int64_t record_every = 1;     // record ℓ at global steps that are multiples of this
    std::int64_t first_step = 0;       // the global step number of the current state
    bool record_first = true;          // whether the current state's ℓ is still to be recorded
    double divergence_threshold = 1e100;
};

struct LoopResult {
    Status status = Status::max_steps;
    std::int64_t steps = 0;     // steps taken in this call
    std::int64_t recorded = 0;  // entries written to losses / loss_steps
};

// Polls `interrupted` (which may be costly, e.g. take the GIL) about every 50 ms of work,
// reading the clock only every `stride` steps; the stride adapts to the cost of a step.
class InterruptPoll {
public:
    template <class Interrupted>
    bool operator()(Interrupted&& interrupted) {
        if (--countdown_ > 0) return false;
        const auto now = Clock::now();
        const double since_clock = std::chrono::duration<double>(now - last_clock_).count();
        if (since_clock < 1e-3 && stride_ < (1 << 20)) stride_ *= 2;
        if (since_clock > 1e-2 && stride_ > 1) stride_ /= 2;
        countdown_ = stride_;
        last_clock_ = now;
        if (std::chrono::duration<double>(now - last_poll_).count() < 0.05) return false;
        last_poll_ = now;
        return interrupted();
    }

private:
    using Clock = std::chrono::steady_clock;
    Clock::time_point last_clock_ = Clock::now(), last_poll_ = Clock::now();
    std::int64_t stride_ = 1, countdown_ = 1;
};

// Runs until ℓ <= tol (converged), ℓ is not finite or exceeds the threshold (diverged: the
// state is the last one with a finite ℓ), max_steps (max_steps) or an interrupt. Records the
// starting ℓ (if record_first), every record_every-th global step, and always the final one.
// `losses`/`loss_steps` need room for max_steps / record_every + 2 entries, `diagnostics`
// (optional) for kDiagnosticCount times as many. On return, and when a step throws, the
// caller's layers hold the last completed state.
template <class Stepper, class Interrupted>
LoopResult run_loop(Stepper& stepper, const LoopOptions& options, double* losses, std::int64_t* loss_steps,
                    double* diagnostics, int diagnostic_count, Interrupted&& interrupted) {
    LoopResult result;
    InterruptPoll poll;
    double previous_loss = 0.0;
    bool previous_recorded = false;
    auto record = [&](std::int64_t step, double loss) {
        losses[result.recorded] = loss;
        loss_steps[result.recorded] = step;
        if (diagnostics) stepper.diagnose(diagnostics + result.recorded * diagnostic_count);
        ++result.recorded;
    };
    try {
        for (std::int64_t t = 0;; ++t) {
            const double loss = static_cast<double>(stepper.evaluate());
            const std::int64_t step = options.first_step + t;
            const bool fresh = t > 0 || options.record_first;
            if (!std::isfinite(loss)) {
                result.status = Status::diverged;
                if (t == 0) {  // nothing better to keep than the starting state
                    if (fresh) record(step, loss);
                    break;
                }
                stepper.revert();
                result.steps = t - 1;
                if (!previous_recorded && (t > 1 || options.record_first)) record(step - 1, previous_loss);
                break;
            }
            const bool on_grid = fresh && step % options.record_every == 0;
            if (on_grid) record(step, loss);
            result.steps = t;
            bool stop = true;
            if (loss > options.divergence_threshold) {
                result.status = Status::diverged;
            } else if (loss <= options.tol) {
                result.status = Status::converged;
            } else if (t == options.max_steps) {
                result.status = Status::max_steps;
            } else if (poll(interrupted)) {
                result.status = Status::interrupted;
            } else {
                stop = false;
            }
            if (stop) {
                if (fresh && !on_grid) record(step, loss);
                break;
            }
            stepper.advance();
            previous_loss = loss;
            previous_recorded = on_grid;
        }
    } catch (...) {
        stepper.finish();
        throw;
    }
    stepper.finish();
    return result;
}

}  // namespace deeplinear
