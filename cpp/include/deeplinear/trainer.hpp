// A steppable training run: an engine (engine.hpp) plus the bookkeeping that must change
// together with the layers — the global step count, whether the current state's loss is
// recorded, and the recorded history. Every call leaves all of it consistent with the layers,
// also when it is interrupted or throws, so that nothing outside (Python between two calls, a
// signal, a second call) can see layers and a step count that disagree.
//
// The state (the layers, or the spectral dynamics' eigenvalues) belongs to the caller, who may
// read and edit it between calls: each call first checks that it is finite and whether it
// changed since the last call (a fingerprint of its bits), and then forgets what was derived from
// the old state (the record flag, power projection's factored product).
#pragma once

#include "diagnostics.hpp"
#include "engine.hpp"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace deeplinear {

struct TrainerSettings {
    std::int64_t record_every = 1;  // record ℓ at global steps that are multiples of this
    bool diagnostics = false;       // also record diagnostics.hpp's row at every record
};

template <class T>
class Trainer {
public:
    // `state` (`size` values, caller-owned, alive as long as the trainer) is what `engine` steps.
    Trainer(T* state, std::size_t size, std::unique_ptr<Engine<T>> engine, const TrainerSettings& settings)
        : state_(state), size_(size), engine_(std::move(engine)), settings_(settings) {
        if (settings_.record_every < 1) throw std::invalid_argument("record_every must be >= 1");
        if (!engine_ || state_ == nullptr) throw std::invalid_argument("a trainer needs a state and an engine");
        const typename Engine<T>::Shape shape = engine_->shape();
        if (shape.depth > 0 && static_cast<std::size_t>(shape.depth * shape.dim * shape.dim) != size_) {
            throw std::invalid_argument(
                "the state's size " + std::to_string(size_) +
                " is not the engine's depth * d * d = " + std::to_string(shape.depth * shape.dim * shape.dim));
        }
        history_.diagnostic_count = settings_.diagnostics ? kDiagnosticCount : 0;
        fingerprint_ = check_state().hash;
    }

    // Up to max_steps more steps, stopping once ℓ <= tol (run_loop's rules). Records ℓ at global
    // steps on the grid of record_every, the starting state if not yet recorded, and the final
    // state (off the grid only when the run stops early or record_final).
    // An empty `interrupted` never interrupts. `checked`: the caller has called check() since the
    // state last changed (a batch checks all its networks first), so the state is not read again.
    LoopResult run(std::int64_t max_steps, double tol, bool record_final, const Interrupt& interrupted = {},
                   bool checked = false) {
        const LoopOptions options = begin(max_steps, tol, record_final, checked);
        const std::size_t before = history_.size();
        LoopResult result;
        static const Interrupt never = [] { return false; };
        try {
            engine_->run(options, history_, interrupted ? interrupted : never, result);
        } catch (...) {
            end(result, before);
            throw;
        }
        end(result, before);
        return result;
    }

    // For whoever steps the state outside run() (a batch's lane groups, batch.hpp): begin()
    // checks the state and returns the loop's options of a call; the caller appends to
    // records() as run_loop would and reports with end() (also when it fails).
    LoopOptions begin(std::int64_t max_steps, double tol, bool record_final, bool checked = false) {
        if (max_steps < 0) throw std::invalid_argument("max_steps must be >= 0");
        if (max_steps > std::numeric_limits<std::int64_t>::max() - steps_) {
            throw std::invalid_argument(
                "max_steps would take the step count past 2**63 - 1 (steps = " + std::to_string(steps_.load()) + ")");
        }
        if (!checked) refresh();
        LoopOptions options;
        options.max_steps = max_steps;
        options.tol = tol;
        options.record_every = settings_.record_every;
        options.first_step = steps_;
        options.record_first = !recorded_current_;
        options.record_final = record_final;
        return options;
    }
    History& records() { return history_; }
    void end(const LoopResult& result, std::size_t before) { settle(result, before); }
    T* state() const { return state_; }

    // Records ℓ (and the diagnostics) of the current state at the current step; returns ℓ.
    double record_current() {
        refresh();
        const double value = engine_->loss();
        if (history_.diagnostic_count > 0) {
            const std::size_t row = history_.diagnostics.size();
            history_.diagnostics.resize(row + static_cast<std::size_t>(history_.diagnostic_count));
            engine_->diagnose(history_.diagnostics.data() + row);
        }
        history_.losses.push_back(value);
        history_.steps.push_back(steps_);
        recorded_current_ = true;
        return value;
    }

    // ℓ of the current state (not recorded).
    double loss() {
        refresh();
        return engine_->loss();
    }

    // std::invalid_argument unless the state is finite; notes a change made from outside.
    void check() { refresh(); }

    // check() in two halves, for a batch that checks every network before it notes anything:
    // inspect() reads the state (whether it is finite, and its fingerprint) and changes nothing;
    // accept() is check() with what inspect() read, the state unchanged since.
    struct Fingerprint {
        std::uint64_t hash = 0;
        bool finite = true;
    };
    Fingerprint inspect() const { return check_state(); }
    void accept(const Fingerprint& now) {
        if (!now.finite) throw std::invalid_argument(kNotFinite);
        if (now.hash != fingerprint_) {
            recorded_current_ = false;
            engine_->state_changed();
            fingerprint_ = now.hash;
        }
    }
    static constexpr const char* kNotFinite = "layers must contain only finite values (found NaN or inf)";

    std::int64_t steps() const { return steps_; }
    bool recorded_current() const { return recorded_current_; }
    const History& history() const { return history_; }
    const TrainerSettings& settings() const { return settings_; }
    // The engine's shape of the layers (Engine::shape: {0, 0} where it does not say).
    typename Engine<T>::Shape shape() const { return engine_->shape(); }
    std::size_t size() const { return size_; }

    // The step size and the record grid of the calls to come (the history so far stays).
    void set_lr(double lr) {
        if (!(lr > 0.0) || !std::isfinite(lr)) throw std::invalid_argument("lr must be a finite number > 0");
        engine_->set_lr(lr);
    }
    void set_record_every(std::int64_t record_every) {
        if (record_every < 1) throw std::invalid_argument("record_every must be >= 1");
        settings_.record_every = record_every;
    }

    // The state of a checkpoint: its step count, record flag and history (validated by the caller).
    void restore(std::int64_t steps, bool recorded_current, History history) {
        if (steps < 0) throw std::invalid_argument("steps must be >= 0");
        history.diagnostic_count = history_.diagnostic_count;
        history_ = std::move(history);
        steps_ = steps;
        recorded_current_ = recorded_current;
        refresh();
    }

    // Power projection's Ψ (engine.hpp): product() into out (d×d) when the current layers are
    // its factors; resume() from a checkpoint's Ψ.
    bool product(T* out) {
        refresh();
        return engine_->product(out);
    }
    bool resume(const T* psi) {
        refresh();
        return engine_->resume(psi);
    }

private:
    // A hash of the state's bits and whether every value is finite. Four interleaved lanes (so that
    // it runs at memory speed), each value taken in by the round of xxHash64 (Collet): acc ←
    // rotl(acc + v·P2, 31)·P1, a bijection of v and of acc, then xxHash64's merge of the lanes and
    // its final avalanche. So an edited value always changes its lane, every bit of it reaches every
    // bit of the hash (a sign flip too), and an edit goes unnoticed only by a 64-bit collision.
    // (FNV-1a lanes combined by shifts, before, lost the sign bit of three values in four, and
    // two sign flips in one lane cancelled.)
    Fingerprint check_state() const {
        using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
        constexpr Bits exponent = sizeof(T) == 8 ? Bits(0x7ff0000000000000ull) : Bits(0x7f800000u);
        constexpr std::uint64_t p1 = 0x9e3779b185ebca87ull, p2 = 0xc2b2ae3d27d4eb4full, p3 = 0x165667b19e3779f9ull,
                                p4 = 0x85ebca77c2b2ae63ull;
        const auto rotl = [](std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); };
        const auto round = [&](std::uint64_t acc, std::uint64_t value) { return rotl(acc + value * p2, 31) * p1; };
        std::uint64_t lanes[4] = {p1 + p2, p2, 0, 0 - p1};
        Bits special = 0;  // an all-ones exponent (inf or NaN) in any value
        for (std::size_t i = 0; i < size_; ++i) {
            Bits bits;
            std::memcpy(&bits, state_ + i, sizeof bits);
            special |= static_cast<Bits>((bits & exponent) == exponent);
            std::uint64_t& lane = lanes[i & 3];
            lane = round(lane, static_cast<std::uint64_t>(bits));
        }
        std::uint64_t hash = rotl(lanes[0], 1) + rotl(lanes[1], 7) + rotl(lanes[2], 12) + rotl(lanes[3], 18);
        for (const std::uint64_t lane : lanes) hash = (hash ^ round(0, lane)) * p1 + p4;
        hash += static_cast<std::uint64_t>(size_);
        hash = (hash ^ (hash >> 33)) * p2;
        hash = (hash ^ (hash >> 29)) * p3;
        Fingerprint result;
        result.hash = hash ^ (hash >> 32);
        result.finite = special == 0;
        return result;
    }

    // Before a call: the state must be finite; if it changed since the last call, what was
    // derived from it is dropped.
    void refresh() { accept(check_state()); }

    // After a call (also one that threw): the step count and flags follow what it did.
    void settle(const LoopResult& result, std::size_t before) {
        steps_ += result.steps;
        if (history_.size() > before) {
            recorded_current_ = history_.steps.back() == steps_;
        } else if (result.steps > 0) {
            recorded_current_ = false;
        }
        fingerprint_ = check_state().hash;
    }

    T* state_;
    std::size_t size_;
    std::unique_ptr<Engine<T>> engine_;
    TrainerSettings settings_;
    History history_;
    // Atomic: steps() and recorded_current() may be read from another thread while a call runs
    // (Trainer.steps and BatchTrainer.steps take no lock); the call writes them at its end.
    std::atomic<std::int64_t> steps_{0};
    std::atomic<bool> recorded_current_{false};
    std::uint64_t fingerprint_ = 0;
};

}  // namespace deeplinear
