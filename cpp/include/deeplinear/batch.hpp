// Many independent training runs stepped by one call: a batch of Trainers (trainer.hpp), one per
// network, each with its own layers, target, parameters, stop rule, step count and history.
// Every network's arithmetic is exactly that of the same run alone, whichever thread steps it;
// with threads > 1 the networks are shared among threads (dynamically, so that networks that
// stop early free their thread for the others).
#pragma once

#include "lanes.hpp"
#include "threads.hpp"
#include "trainer.hpp"

#ifdef DEEPLINEAR_OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace deeplinear {

template <class T>
class BatchTrainer {
public:
    // The networks are shared among context.threads threads; lane groups use its kernels.
    explicit BatchTrainer(const ExecutionContext& context, LanePolicy lanes = LanePolicy::automatic)
        : context_(context), threads_(context.threads < 1 ? 1 : context.threads), lanes_(lanes) {}

    // Network b: its trainer, its target Φ (d×d, caller-owned) and its method parameters. The
    // networks of a batch share their shape (the engine's, and set_shape's), their method and
    // whether they record diagnostics (std::invalid_argument otherwise; their step sizes, method
    // parameters, stop rules and record grids are their own).
    void add(std::unique_ptr<Trainer<T>> network, const T* phi, const MethodParams<T>& params) {
        if (!network || phi == nullptr) throw std::invalid_argument("a batch's network needs a trainer and a target");
        const auto which = [&] { return "network " + std::to_string(networks_.size()); };  // (only to throw)
        const typename Engine<T>::Shape shape = network->shape();
        if (shape.depth > 0 && !same_shape(shape.depth, shape.dim)) throw shape_error(which(), shape.depth, shape.dim);
        if (network->size() != networks_size(network->size())) {
            throw std::invalid_argument(which() + " has " + std::to_string(network->size()) +
                                        " state values, the batch's networks " + std::to_string(networks_size(0)));
        }
        if (!networks_.empty()) {
            if (params.method != params_[0].method) {
                throw std::invalid_argument(which() + ": a batch's networks share their method (network 0's)");
            }
            if (network->settings().diagnostics != networks_[0]->settings().diagnostics) {
                throw std::invalid_argument(which() + ": a batch's networks all record diagnostics, or none does");
            }
        }
        networks_.push_back(std::move(network));
        phis_.push_back(phi);
        params_.push_back(params);
    }

    // Adds `count` networks at once, made on the batch's threads: make(j, network, phi, params)
    // sets the trainer, target and parameters of the j-th (it must not touch what another j
    // touches). If any make throws, none is added and the first failure (lowest j) is rethrown.
    template <class Make>
    void add_many(std::size_t count, Make&& make) {
        std::vector<std::unique_ptr<Trainer<T>>> networks(count);
        std::vector<const T*> phis(count, nullptr);
        std::vector<MethodParams<T>> params(count);
        Failures failures;
        std::atomic<std::size_t> next{0};
        on_threads(helpers_for(count), [&](bool) {
            for (std::size_t j = next.fetch_add(1); j < count; j = next.fetch_add(1)) {
                try {
                    make(j, networks[j], phis[j], params[j]);
                } catch (...) {
                    failures.note(j);
                }
            }
        });
        failures.rethrow();
        for (std::size_t j = 0; j < count; ++j) add(std::move(networks[j]), phis[j], params[j]);
    }

    // The step size of network b for the calls to come.
    void set_lr(std::size_t b, double lr) {
        networks_.at(b)->set_lr(lr);
        params_[b].lr = static_cast<T>(lr);
    }

    // Whether the next run() steps groups of networks in SIMD lanes (lanes.hpp): gd or penalty,
    // small d, no diagnostics, and lane kernels on this machine.
    bool uses_lanes() const {
        if (lanes_ == LanePolicy::never || networks_.size() < 2 || context_.backend_forced ||
            lane_width<T>(context_, dim_) < 2) {
            return false;
        }
        const Method method = params_[0].method;
        const Trainer<T>& first = *networks_[0];
        const bool size_fits =
            lanes_ == LanePolicy::always ? dim_ >= 1 && dim_ <= kLaneMaxDim : lanes_by_default<T>(context_, dim_);
        return (method == Method::gd || method == Method::penalty) && !first.settings().diagnostics && size_fits;
    }
    // The networks' shape (depth L, d): the engines' where they say, which this must match
    // (std::invalid_argument); needed before run() for engines that do not say.
    void set_shape(Index depth, Index dim) {
        if (depth < 1 || dim < 1) throw std::invalid_argument("a batch's depth and d must be >= 1");
        if (!same_shape(depth, dim)) throw shape_error("set_shape", depth, dim);
        if (!networks_.empty() && networks_size(0) != static_cast<std::size_t>(depth * dim * dim)) {
            throw std::invalid_argument("set_shape: the networks hold " + std::to_string(networks_size(0)) +
                                        " state values, not depth * d * d");
        }
        depth_ = depth;
        dim_ = dim;
    }
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
        // (an empty `interrupted` never interrupts)
        if (!networks_.empty() && depth_ < 1) throw std::invalid_argument("a batch needs its shape (set_shape)");
        // Every network's state is read (finite? its fingerprint) on the batch's threads before
        // any steps, and only if all are finite does any network note a change (as one network's
        // check() would): a call that fails here leaves every network as it was. The steps below
        // then begin without reading the states again.
        {
            std::vector<typename Trainer<T>::Fingerprint> prints(networks_.size());
            std::atomic<std::size_t> next{0};
            on_threads(helpers_for(networks_.size()), [&](bool) {
                for (std::size_t b = next.fetch_add(1); b < networks_.size(); b = next.fetch_add(1)) {
                    prints[b] = networks_[b]->inspect();
                }
            });
            for (std::size_t b = 0; b < networks_.size(); ++b) {
                if (!prints[b].finite) {
                    throw std::invalid_argument("network " + std::to_string(b) + ": " + Trainer<T>::kNotFinite);
                }
            }
            for (std::size_t b = 0; b < networks_.size(); ++b) networks_[b]->accept(prints[b]);
        }
        std::atomic<bool> stop{false};
        std::atomic<std::size_t> next{0};
        std::exception_ptr failure;
        std::atomic<bool> failed{false};
        // Units of work: lane groups of `group` networks, or single networks (group 1).
        const std::size_t group = uses_lanes() ? static_cast<std::size_t>(lane_width<T>(context_, dim_)) : 1;
        const std::size_t units = (networks_.size() + group - 1) / group;
        std::vector<Trainer<T>*> trainers(networks_.size());
        for (std::size_t b = 0; b < networks_.size(); ++b) trainers[b] = networks_[b].get();
        auto work = [&](bool polls) {
            const Interrupt check = [&] {
                if (stop.load(std::memory_order_relaxed)) return true;
                if (polls && interrupted && interrupted()) {
                    stop.store(true);
                    return true;
                }
                return false;
            };
            for (std::size_t unit = next.fetch_add(1); unit < units; unit = next.fetch_add(1)) {
                const std::size_t first = unit * group, count = std::min(group, networks_.size() - first);
                if (stop.load() || failed.load()) {
                    for (std::size_t b = first; b < first + count; ++b) {
                        results[b] = LoopResult();
                        results[b].status = Status::interrupted;
                    }
                    continue;
                }
                try {
                    if (group > 1) {
                        run_lane_group<T>(context_, trainers.data() + first, phis_.data() + first,
                                          params_.data() + first, count, depth_, dim_, max_steps + first, tol + first,
                                          record_final, check, results + first);
                    } else {
                        results[first] = networks_[first]->run(max_steps[first], tol[first], record_final, check, true);
                    }
                } catch (...) {
                    if (!failed.exchange(true)) failure = std::current_exception();
                    for (std::size_t b = first; b < first + count; ++b) {
                        results[b] = LoopResult();
                        results[b].status = Status::interrupted;
                    }
                }
            }
        };
        const int extra = helpers_for(units);
        on_threads(extra, work, [&] {
            try {  // (on the calling thread, in a parallel region: an exception must not leave it)
                if (!stop.load() && interrupted && interrupted()) stop.store(true);
            } catch (...) {
                stop.store(true);
                if (!failed.exchange(true)) failure = std::current_exception();
            }
        });
        if (failure) std::rethrow_exception(failure);
    }

private:
    // The batch's shape is the first one known (an engine's or set_shape's); every later one
    // must equal it (false otherwise).
    bool same_shape(Index depth, Index dim) {
        if (depth_ == 0) {
            depth_ = depth;
            dim_ = dim;
        }
        return depth == depth_ && dim == dim_;
    }
    std::invalid_argument shape_error(const std::string& which, Index depth, Index dim) const {
        return std::invalid_argument(which + " has (depth, d) = (" + std::to_string(depth) + ", " +
                                     std::to_string(dim) + "), the batch's networks (" + std::to_string(depth_) + ", " +
                                     std::to_string(dim_) + ")");
    }
    // The networks' state size (`otherwise` when there is none yet).
    std::size_t networks_size(std::size_t otherwise) const {
        return networks_.empty() ? otherwise : networks_[0]->size();
    }

    // The first failure (the lowest index) among work shared by threads.
    class Failures {
    public:
        // From inside a catch block: the exception being handled.
        void note(std::size_t index) {
            const std::lock_guard<std::mutex> lock(mutex_);
            if (!error_ || index < index_) {
                index_ = index;
                error_ = std::current_exception();
            }
        }
        void rethrow() const {
            if (error_) std::rethrow_exception(error_);
        }

    private:
        std::mutex mutex_;
        std::size_t index_ = 0;
        std::exception_ptr error_;
    };

    // The helper threads for `units` units of work: one fewer than the threads, and no more than
    // there are units besides the calling thread's.
    // None in a process forked after threads were used (execution.hpp: OpenMP's pool is gone).
    int helpers_for(std::size_t units) const {
        if (forked_after_threads()) return 0;
        return static_cast<int>(
            std::min<std::size_t>(static_cast<std::size_t>(threads_ - 1), units == 0 ? 0 : units - 1));
    }

    // work(polls) on `extra` helper threads and on the calling thread (polls is true only there);
    // returns once all have finished. While the helpers finish, the calling thread calls poll()
    // every 20 ms, and it returns as soon as the last helper has (not at its next poll: a batch of
    // a few tens of milliseconds would lose a poll's sleep to it).
    template <class Work, class Poll>
    static void on_threads(int extra, Work&& work, Poll&& poll) {
        if (extra <= 0) {
            work(true);
            return;
        }
        int helpers_done = 0;  // (under `mutex`)
        std::mutex mutex;
        std::condition_variable finished;
        const CallerFloatEnvironment caller;
        auto helper = [&] {
            {
                const CallerFloatEnvironment::Adopted adopted(caller);
                work(false);
            }
            {
                const std::lock_guard<std::mutex> lock(mutex);
                ++helpers_done;
            }
            finished.notify_one();
        };
        auto wait_for = [&](int helpers) {
            std::unique_lock<std::mutex> lock(mutex);
            while (!finished.wait_for(lock, std::chrono::milliseconds(20), [&] { return helpers_done == helpers; })) {
                lock.unlock();
                poll();
                lock.lock();
            }
        };
#ifdef DEEPLINEAR_OPENMP
        // OpenMP's threads outlive the call: a batch of a few tens of milliseconds does not wait
        // for a new thread to get going (see batch_compare.py in docs/performance.md).
        if (!omp_in_parallel()) {
#pragma omp parallel num_threads(extra + 1)
            {
                if (omp_get_thread_num() == 0) {
                    work(true);
                    wait_for(omp_get_num_threads() - 1);
                } else {
                    helper();
                }
            }
            return;
        }
#endif
        std::vector<std::thread> helpers;
        helpers.reserve(static_cast<std::size_t>(extra));
        for (int i = 0; i < extra; ++i) helpers.emplace_back(helper);
        work(true);
        wait_for(extra);
        for (std::thread& thread : helpers) thread.join();
    }
    template <class Work>
    static void on_threads(int extra, Work&& work) {
        on_threads(extra, work, [] {});
    }

    ExecutionContext context_;
    int threads_;
    LanePolicy lanes_;
    Index depth_ = 0, dim_ = 0;
    std::vector<std::unique_ptr<Trainer<T>>> networks_;
    std::vector<const T*> phis_;
    std::vector<MethodParams<T>> params_;
};

}  // namespace deeplinear
