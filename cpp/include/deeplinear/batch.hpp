// Many independent training runs stepped by one call: a batch of Trainers (trainer.hpp), one per
// network, each with its own layers, target, parameters, stop rule, step count and history.
// Every network's arithmetic is exactly that of the same run alone, whichever thread steps it;
// with threads > 1 the networks are shared among threads (dynamically, so that networks that
// stop early free their thread for the others).
#pragma once

#include "trainer.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace deeplinear {

template <class T>
class BatchTrainer {
public:
    explicit BatchTrainer(int threads) : threads_(threads < 1 ? 1 : threads) {}

    void add(std::unique_ptr<Trainer<T>> network) { networks_.push_back(std::move(network)); }
    std::size_t size() const { return networks_.size(); }
    Trainer<T>& network(std::size_t b) { return *networks_.at(b); }
    const Trainer<T>& network(std::size_t b) const { return *networks_.at(b); }

    // Every network b: up to max_steps[b] more steps, stopping once its ℓ <= tol[b] (run_loop's
    // rules); results[b] says what its call did. `interrupted` is polled by the calling thread;
    // once it says stop, every network stops at its next poll (status interrupted) and networks
    // not yet started are left as they are (status interrupted, no steps). Before any step, every
    // network's layers must be finite (std::invalid_argument naming the first that is not).
    void run(const std::int64_t* max_steps, const double* tol, bool record_final, const Interrupt& interrupted,
             LoopResult* results) {
        for (std::size_t b = 0; b < networks_.size(); ++b) {
            try {
                networks_[b]->check();
            } catch (const std::invalid_argument& error) {
                throw std::invalid_argument("network " + std::to_string(b) + ": " + error.what());
            }
        }
        std::atomic<bool> stop{false};
        std::atomic<std::size_t> next{0};
        std::exception_ptr failure;
        std::atomic<bool> failed{false};
        auto work = [&](bool polls) {
            const Interrupt check = [&] {
                if (stop.load(std::memory_order_relaxed)) return true;
                if (polls && interrupted && interrupted()) {
                    stop.store(true);
                    return true;
                }
                return false;
            };
            for (std::size_t b = next.fetch_add(1); b < networks_.size(); b = next.fetch_add(1)) {
                if (stop.load() || failed.load()) {
                    results[b] = LoopResult();
                    results[b].status = Status::interrupted;
                    continue;
                }
                try {
                    results[b] = networks_[b]->run(max_steps[b], tol[b], record_final, check);
                } catch (...) {
                    if (!failed.exchange(true)) failure = std::current_exception();
                    results[b] = LoopResult();
                    results[b].status = Status::interrupted;
                }
            }
        };
        const int extra = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(threads_ - 1),
                                                                 networks_.empty() ? 0 : networks_.size() - 1));
        std::atomic<int> active{extra};
        std::vector<std::thread> helpers;
        helpers.reserve(static_cast<std::size_t>(extra));
        for (int i = 0; i < extra; ++i) {
            helpers.emplace_back([&] {
                work(false);
                active.fetch_sub(1);
            });
        }
        work(true);
        // The calling thread keeps answering for the interrupt while the others finish.
        while (active.load() > 0) {
            if (!stop.load() && interrupted && interrupted()) stop.store(true);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        for (std::thread& helper : helpers) helper.join();
        if (failure) std::rethrow_exception(failure);
    }

private:
    int threads_;
    std::vector<std::unique_ptr<Trainer<T>>> networks_;
};

}  // namespace deeplinear
