// Many steps in one call: stop rules, loss recording and interrupt polling for any stepper
// (evaluate() → ℓ of the current state, advance(), revert(), finish(), diagnose(out)).
#pragma once

#include "common.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace deeplinear {

enum class Status { converged, max_steps, diverged, interrupted };

struct LoopOptions {
    std::int64_t max_steps = 0;     // steps this call may take
    double tol = 0.0;               // stop once ℓ <= tol
    std::int64_t record_every = 1;  // record ℓ at global steps that are multiples of this
    std::int64_t first_step = 0;    // the global step number of the current state
    bool record_first = true;       // whether the current state's ℓ is still to be recorded
    // Whether a final state off the record grid is recorded when the call ends by max_steps (a
    // state where the run stopped for any other reason is always recorded).
    bool record_final = true;
    double divergence_threshold = 1e100;
};

// The record grid of a call: whether each global step from options.first_step on is a multiple
// of record_every, by a running count instead of a division per step (a 64-bit division per step
// was a few percent of a step of a small network).
class RecordGrid {
public:
    RecordGrid() = default;
    explicit RecordGrid(const LoopOptions& options) : every_(options.record_every) {
        const std::int64_t rest = options.first_step % every_;
        next_ = rest == 0 ? options.first_step : after(options.first_step, every_ - rest);
    }
    // Whether `step` (each call's the one after the last's) is on the grid.
    bool on(std::int64_t step) {
        if (step != next_) return false;
        next_ = after(step, every_);
        return true;
    }

private:
    // step + add, or −1 (never a step) past the largest step count
    static std::int64_t after(std::int64_t step, std::int64_t add) {
        return step > std::numeric_limits<std::int64_t>::max() - add ? -1 : step + add;
    }
    std::int64_t every_ = 1, next_ = -1;
};

struct LoopResult {
    Status status = Status::max_steps;
    std::int64_t steps = 0;                                  // steps taken in this call (so far, while it runs)
    std::int64_t recorded = 0;                               // entries appended to the history
    double loss = std::numeric_limits<double>::quiet_NaN();  // ℓ of the final state
};

// The recorded losses of a run, their step numbers and (optionally) a row of diagnostics per
// record; appended to as the run goes, so a long run needs no buffer sized up front.
struct History {
    std::vector<double> losses;
    std::vector<std::int64_t> steps;
    std::vector<double> diagnostics;  // row-major, `diagnostic_count` per record when recorded
    int diagnostic_count = 0;

    std::size_t size() const { return losses.size(); }
    void clear() {
        losses.clear();
        steps.clear();
        diagnostics.clear();
    }
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
// state is the last one with a finite ℓ), max_steps (max_steps) or an interrupt. Appends to
// `history` the starting ℓ (if record_first), every record_every-th global step, and the final
// one (off the grid only if the run stopped early or record_final), with a row of diagnostics
// per record when history.diagnostic_count > 0. On return, and when a step throws, the
// caller's layers hold the last completed state and `result` says how far the call got.
template <class Stepper, class Interrupted>
void run_loop(Stepper& stepper, const LoopOptions& options, History& history, Interrupted&& interrupted,
              LoopResult& result) {
    result = LoopResult();
    InterruptPoll poll;
    RecordGrid grid(options);
    double previous_loss = 0.0;
    bool previous_recorded = false;
    auto record = [&](std::int64_t step, double loss) {
        history.losses.push_back(loss);
        history.steps.push_back(step);
        if (history.diagnostic_count > 0) {
            const std::size_t row = history.diagnostics.size();
            history.diagnostics.resize(row + static_cast<std::size_t>(history.diagnostic_count));
            stepper.diagnose(history.diagnostics.data() + row);
        }
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
                    result.loss = loss;
                    if (fresh) record(step, loss);
                    break;
                }
                stepper.revert();
                result.steps = t - 1;
                result.loss = previous_loss;
                if (!previous_recorded && (t > 1 || options.record_first)) record(step - 1, previous_loss);
                break;
            }
            const bool on_grid = grid.on(step) && fresh;
            if (on_grid) record(step, loss);
            result.steps = t;
            result.loss = loss;
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
                if (fresh && !on_grid && (options.record_final || result.status != Status::max_steps)) {
                    record(step, loss);
                }
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
}

template <class Stepper, class Interrupted>
LoopResult run_loop(Stepper& stepper, const LoopOptions& options, History& history, Interrupted&& interrupted) {
    LoopResult result;
    run_loop(stepper, options, history, interrupted, result);
    return result;
}

}  // namespace deeplinear
