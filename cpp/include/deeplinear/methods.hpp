// One step of each training method of the paper, on a stack of layers.
//   gd (Sec. 3.1, Algorithm 1):        Θ_i ← Θ_i − η G_i
//   penalty (Sec. 6, Theorem 4):       Θ_i ← Θ_i − η (G_i + κ (Θ_i − I))
//   step_and_project (Sec. 6, Thm 5):  Θ_i ← Π_ψ(Θ_i − η G_i), Π_ψ onto {‖A − I‖₂ ≤ ψ}
//   power_projection (Sec. 5, Alg. 2): Θ ← balanced factors of Π_{H_γ}(Θ'_{1:L}), Θ' = Θ − ηG
//                                      (its own stepper, power_projection.hpp)
// All layers move simultaneously: the step reads the current stack and writes the next one.
#pragma once

#include "common.hpp"
#include "diagnostics.hpp"
#include "execution.hpp"
#include "gradient.hpp"
#include "projections.hpp"
#include "threads.hpp"

#include <algorithm>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace deeplinear {

enum class Method { gd, penalty, step_and_project, power_projection };
// The methods' names, in the order of Method: the one list the Python package checks its own
// method table against.
inline constexpr std::size_t kMethodCount = 4;
inline constexpr const char* kMethodNames[kMethodCount] = {"gd", "penalty", "step_and_project", "power_projection"};

template <class T>
struct MethodParams {
    Method method = Method::gd;
    T lr = T(0);
    T gamma = T(0);  // power_projection: the H_γ margin
    T psi = T(0);    // step_and_project: the radius of the ball around I
    T kappa = T(0);  // penalty: the weight of (κ/2) Σ‖I − Θ_i‖_F²
};

// Whether a method needs decompositions (projections, factorizations); gd and penalty also have
// fixed-size kernels for small d (fixed_stepper.hpp).
inline bool needs_decompositions(Method method) {
    return method == Method::power_projection || method == Method::step_and_project;
}

// The state of a run: the caller's layers plus one spare stack, swapped after every step so
// that the previous state survives a step that turns out non-finite (then revert()).
template <class T>
class DenseStepper {
public:
    // The products run as `context` says (see execution.hpp).
    DenseStepper(LayerStack<T> layers, ConstMatrixMap<T> phi, const MethodParams<T>& params,
                 const ExecutionContext& context)
        : result_(layers), spare_(layers.depth, layers.dim), current_(layers), next_(spare_.view()),
          phi_(phi.data(), layers.dim, layers.dim), params_(params), context_(context),
          projector_(make_projector(params.method, layers.dim)),
          projection_lanes_(projection_lanes(projector_, context, layers.depth)),
          sweep_(layers.depth, layers.dim, context, projection_lend(layers.dim)) {
        if (params.method == Method::power_projection) {
            throw std::invalid_argument("power projection runs on PowerProjectionStepper");
        }
        // The other threads' projections: a Projector and products of their own, on one thread
        // (products on a kernel of ours give the same bits on every kernel and thread count;
        // the small kernel makes no panels).
        ExecutionContext one = context;
        one.threads = 1;
        if (sweep_.products().backend() != Backend::blas) {
            one.backend_forced = true;
            one.backend = Backend::small;
        }
        for (int k = 1; k < projection_lanes_; ++k) lanes_.push_back(std::make_unique<Lane>(layers.dim, one));
    }

    // Starts a run (or a look) from the caller's layers: finish() left them current.
    void begin() {
        current_ = result_;
        next_ = spare_.view();
    }

    // ℓ at the current state (the forward sweep, kept for the next advance()).
    T evaluate() { return sweep_.forward(current_.as_const(), phi_, next_.data); }

    // Writes the next state from the current one; evaluate() must have run on the current state.
    void advance() {
        const T lr = params_.lr;
        const T decay = T(1) - lr * params_.kappa;
        const T pull = lr * params_.kappa;
        sweep_.backward(
            current_.as_const(),
            [&](Index i, const GradientFactors<T>& gradient) {
                auto next = next_.layer(i);
                auto current = current_.layer(i);
                // What the gradient is subtracted from: the current layer (read by the product's
                // kernel as it writes the next one), or its decayed copy. The copy goes where the
                // update does not (so that the packed kernel keeps its partial sums in the update,
                // as for gd): into layer i − 1 of the next stack, which the sweep (last layer
                // first) has yet to write, or for the first layer into a matrix the sweep has done
                // with; for the first layer of two, which has none, row by row.
                const T* from = current.data();
                if (params_.method == Method::penalty) {
                    T* copy = i > 0 ? next_.layer(i - 1).data() : sweep_.spent_matrix(current_.depth);
                    if (copy == nullptr) {
                        decay_by_rows(gradient, current.data(), next.data(), decay, pull);
                        return;
                    }
                    MatrixMap<T> decayed(copy, current_.dim, current_.dim);
                    decayed = decay * current;
                    decayed.diagonal().array() += pull;
                    from = copy;
                }
                // G_i in full, then scaled: η·(B Pᵀ), never (ηB)Pᵀ. With the same rounding for every
                // layer, dynamics that are symmetric in exact arithmetic (Lemma 5: equal layers for
                // symmetric Φ in its eigenbasis) stay exactly symmetric in floating point.
                sweep_.subtract_gradient(gradient, lr, from, next.data());
            },
            next_.data);
        if (params_.method == Method::step_and_project) project_layers();
        std::swap(current_, next_);
    }

    // Back to the state before the last advance().
    void revert() { std::swap(current_, next_); }

    void set_lr(T lr) { params_.lr = lr; }

    // Leaves the current state in the caller's layers (and current again, as after begin()).
    void finish() {
        if (current_.data != result_.data) std::copy(current_.data, current_.data + current_.size(), result_.data);
        begin();
    }

    // The diagnostics of diagnostics.hpp at the current state into out[0 .. kDiagnosticCount).
    void diagnose(double* out) {
        if (!diagnostics_) diagnostics_.emplace(current_.depth, current_.dim, context_);
        diagnostics_->compute(current_.as_const(), ConstMatrixMap<T>(phi_.data(), current_.dim, current_.dim), out);
    }

private:
    // The penalty's update of the first of two layers, where no d × d matrix is spent yet: G in
    // the update's place, then each row fma(−η, G, (1 − ηκ)Θ + ηκI) with the decayed row in a
    // vector (the arithmetic of the fused update: G's sum rounded once, then one fma). In place,
    // the packed kernel would keep its sums in a matrix of its own.
    void decay_by_rows(const GradientFactors<T>& gradient, const T* current, T* out, T decay, T pull) {
        const Index n = current_.dim;
        sweep_.gradient(gradient, out);
        row_.resize(n);
        Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> decayed(row_.data(), n);
        for (Index r = 0; r < n; ++r) {
            decayed = decay * Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(current + r * n, n);
            decayed(r) += pull;
            sweep_.products().subtract_row(out + r * n, params_.lr, row_.data(), out + r * n);
        }
    }

    static std::optional<Projector<T>> make_projector(Method method, Index dim) {
        if (method == Method::step_and_project) return Projector<T>(dim);
        return std::nullopt;
    }

    // Step-and-project: each layer's projection once the sweep is done, in the memory that it has
    // done with. The SVDs are independent and each runs on one thread, so with several threads
    // each takes every `lanes`-th layer, with the bits of one thread. Lane 0 borrows the residual's
    // matrix and the start of the prefix block (its SVD's 5d² + 7d add nothing to the workspace
    // for L ≥ 8); lane k ≥ 1 a matrix and a block further on in it.
    struct Lane {
        Lane(Index dim, const ExecutionContext& one) : projector(dim), products(one, dim) {}
        Projector<T> projector;
        Products<T> products;
    };

    // How many threads project: the call's (at most one per layer) where the SVD runs on LAPACK
    // and the build has OpenMP, else one.
    static int projection_lanes(const std::optional<Projector<T>>& projector, const ExecutionContext& context,
                                Index depth) {
#ifdef DEEPLINEAR_OPENMP
        if (projector && projector->identity_ball_block() > 0) {
            return static_cast<int>(std::max<Index>(1, std::min<Index>(context.threads, depth)));
        }
#else
        (void)context;
        (void)depth;
#endif
        return 1;
    }
    // A lane's matrix and block (each a whole number of cache lines), and what the sweep lends.
    static Index whole_lines(Index count) {
        const Index line = 64 / static_cast<Index>(sizeof(T));
        return (count + line - 1) / line * line;
    }
    Index lane_block() const { return projector_ ? whole_lines(projector_->identity_ball_block()) : 0; }
    Index projection_lend(Index dim) const {
        return lane_block() + (projection_lanes_ - 1) * (whole_lines(dim * dim) + lane_block());
    }

    void project_layers() {
        const Index depth = next_.depth, matrix = whole_lines(next_.dim * next_.dim);
        auto project = [&](int lane, Index i) {
            T* layer = next_.layer(i).data();
            if (lane == 0) {
                projector_->project_identity_ball_lent(layer, params_.psi, sweep_.spent_residual(),
                                                       sweep_.spent_block(), sweep_.products());
                return;
            }
            T* own = sweep_.spent_block() + lane_block() + (lane - 1) * (matrix + lane_block());
            Lane& other = *lanes_[static_cast<std::size_t>(lane - 1)];
            other.projector.project_identity_ball_lent(layer, params_.psi, own, own + matrix, other.products);
        };
#ifdef DEEPLINEAR_OPENMP
        if (projection_lanes_ > 1 && !omp_in_parallel() && !forked_after_threads()) {
            std::vector<std::exception_ptr> failures(static_cast<std::size_t>(projection_lanes_));
            const CallerFloatEnvironment caller;
#pragma omp parallel num_threads(projection_lanes_)
            {
                const CallerFloatEnvironment::Adopted adopted(caller);
                const int lane = omp_get_thread_num(), lanes = omp_get_num_threads();
                try {
                    for (Index i = lane; i < depth; i += lanes) project(lane, i);
                } catch (...) {
                    failures[static_cast<std::size_t>(lane)] = std::current_exception();
                }
            }
            for (const std::exception_ptr& failure : failures) {
                if (failure) std::rethrow_exception(failure);
            }
            return;
        }
#endif
        for (Index i = 0; i < depth; ++i) project(0, i);
    }

    LayerStack<T> result_;
    OwnedStack<T> spare_;
    LayerStack<T> current_, next_;
    ConstMatrixMap<T> phi_;
    MethodParams<T> params_;
    ExecutionContext context_;
    std::optional<Projector<T>> projector_;  // step_and_project's (before sweep_, which lends it memory)
    int projection_lanes_ = 1;
    GradientSweep<T> sweep_;
    std::vector<std::unique_ptr<Lane>> lanes_;  // lanes 1, 2, … of project_layers()
    std::vector<T> row_;                        // decay_by_rows()'s decayed row
    std::optional<Diagnostics<T>> diagnostics_;
};

// Compiled in cpp/core/methods.cpp.
extern template class DenseStepper<double>;
extern template class DenseStepper<float>;

}  // namespace deeplinear
