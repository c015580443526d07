// Algorithm 2 (power projection, Sec. 5) with the layers kept in factored form between steps.
//
// After a step the layers are the balanced factorization (Def. 3) of the projected product
// Ψ = U Σ Vᵀ: with R = U Vᵀ, W = R^{1/L}, M = P^{1/L} = V D Vᵀ and D = Σ^{1/L},
//   Θ_j = W^j M W^{−(j−1)},  Θ_{1:j−1} = W^{j−1} M^{j−1},  Θ_{j+1:L} = R M^{L−j} W^{−j}.
// So the gradient of Lemma 1 is G_j = W^j M^{L−j} Rᵀ E M^{j−1} W^{−(j−1)} (E = Ψ − Φ), and
//   Θ_j − η G_j = W^j V B_j Vᵀ W^{−(j−1)},  B_j = D − η D^{L−j} F D^{j−1} = D^{L−j} C D^{j−1},
//   F = Vᵀ Rᵀ E V = Σ − Uᵀ Φ V,  C = D^{2−L} − η F.
// The orthogonal factors telescope in the product of the stepped layers:
//   Θ'_{1:L} = R V B_L ⋯ B_1 Vᵀ = U C (Σ C)^{L−1} Vᵀ.
// One step is then Uᵀ Φ V (2 products), (ΣC)^{L−1} by repeated squaring (at most 2 log₂ L
// products), 3 more products, the projection onto H_γ and one SVD: no chained product of L
// layers, no Schur form, no layers. Entrywise, |C| |ΣC|^{L−1} = |B_L| ⋯ |B_1| (the diagonal
// scalings distribute over the same sums), so the rounding error is bounded as for the product
// of the stepped layers themselves.
//
// The layers are formed (the Schur form of R and 2L products, BalancedFactorizer) only when
// they are observed: at the end of a call and for diagnostics. The stepper keeps the factored
// state from call to call; a run starts from the caller's layers with one ordinary step (a
// gradient sweep and the chained product) when it has none (a new run, or layers changed from
// outside: invalidate()), or from a Ψ given back by resume() (a checkpoint). Then a run split
// over several calls takes exactly the steps of one long call.
//
// A stepped product that cannot be factored (σ_min = 0, or R without real roots: γ within
// rounding of 0 relative to ‖Ψ‖, where rounding can flip the sign of the product on the edge of
// H_γ) is a state with ℓ = +∞: the loop reverts to the last factored state and reports
// divergence. A product that is merely singular to working precision (σ_min ≤ d·ε·σ_max, e.g.
// a target outside H_γ pressing it against the edge with γ that small) is factored and stepped
// like any other once its R is checked: the factored step needs σ > 0, not well-conditioned.
#pragma once

#include "common.hpp"
#include "diagnostics.hpp"
#include "execution.hpp"
#include "factorization.hpp"
#include "gemm.hpp"
#include "gradient.hpp"
#include "methods.hpp"
#include "products.hpp"
#include "projections.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace deeplinear {

template <class T>
class PowerProjectionStepper {
public:
    // The products run as `context` says (see execution.hpp).
    PowerProjectionStepper(LayerStack<T> layers, ConstMatrixMap<T> phi, const MethodParams<T>& params,
                           const ExecutionContext& context)
        : result_(layers), phi_(phi), phi_col_(phi), params_(params), context_(context), products_(context, layers.dim),
          projector_(layers.dim), factorizer_(layers.dim, context) {
        for (State& state : states_) state = State(layers.dim);
        const Index size = layers.dim * layers.dim;
        arena_size_ = std::max({(layers.depth + 2) * size, kFactoredMatrices * size, factorizer_.lent_size()});
    }

    // Starts a run from the current state: the factored one that finish() left (whose factors
    // the caller's layers are), or the caller's layers.
    void begin() {}

    // The caller's layers were changed from outside: start from them, not from Ψ.
    void invalidate() {
        for (State& state : states_) state.factored = false;
    }

    // Continue from Ψ (d×d, row-major), whose balanced factors the caller's layers are; false
    // (and the caller's layers current) if Ψ is not finite or cannot be factored.
    bool resume(const T* psi) {
        State& state = states_[current_];
        state.psi = ConstMatrixMap<T>(psi, result_.dim, result_.dim);
        state.broken = false;
        state.factored = state.psi.allFinite() && decompose(state) &&
                         factorizer_.rotation_roots(state.u, state.v) == FactorStatus::ok;
        return state.factored;
    }

    // Writes Ψ of the current state (row-major) into out and returns true when it is factored.
    bool product(T* out) const {
        const State& state = states_[current_];
        if (!state.factored || state.broken) return false;
        MatrixMap<T>(out, result_.dim, result_.dim) = state.psi;
        return true;
    }

    // ℓ at the current state: ½‖Ψ − Φ‖² when factored, else by the forward sweep (kept for advance()).
    T evaluate() {
        const State& state = states_[current_];
        if (state.broken) return std::numeric_limits<T>::infinity();
        if (state.factored) return T(0.5) * (state.psi - phi_col_).squaredNorm();
        if (!ordinary_) ordinary_.emplace(result_.depth, result_.dim, context_);
        return ordinary_->sweep.forward(result_.as_const(), phi_);
    }

    void advance() {
        const State& state = states_[current_];
        State& next = states_[1 - current_];
        if (state.factored) {
            factored_step(state, next.psi);
        } else {
            ordinary_step(next.psi);
        }
        next.factored = true;
        next.broken = false;
        if (next.psi.allFinite()) {  // else ℓ is not finite: the loop reverts without looking further
            projector_.project_positive(next.psi, params_.gamma, next.psi);
            // Real principal roots: the projected Ψ is γ-positive, so every eigenvalue λ of R has
            // Re λ ≥ γ / σ_max(Ψ) > 0 (R z = λ z, y = P⁻¹z: y*Ψy = λ y*Py); rounding can only
            // break that when γ is within rounding of 0 relative to ‖Ψ‖ (so also when Ψ is
            // singular to working precision), where R's Schur form is checked every step, as the
            // layers would need it.
            next.broken = !decompose(next);
            if (!next.broken) {
                const T rounding = T(100) * T(next.sigma.size()) * std::numeric_limits<T>::epsilon() * next.sigma(0);
                if (!(params_.gamma > rounding) || BalancedFactorizer<T>::is_singular(next.sigma)) {
                    next.broken = factorizer_.rotation_roots(next.u, next.v) != FactorStatus::ok;
                }
            }
        }
        current_ = 1 - current_;
    }

    void revert() { current_ = 1 - current_; }

    void set_lr(T lr) { params_.lr = lr; }

    // Leaves the current state's layers in the caller's layers; the factored state stays, for
    // the next call.
    void finish() {
        const State& state = states_[current_];
        if (!state.factored || state.broken) return;  // the caller's layers, untouched
        materialize(state, result_);
    }

    void diagnose(double* out) {
        if (!diagnostics_) diagnostics_.emplace(result_.depth, result_.dim, context_);
        const State& state = states_[current_];
        LayerStack<T> layers = result_;
        if (state.factored) {
            layers = LayerStack<T>{arena(), result_.depth, result_.dim};
            materialize(state, layers);
        }
        diagnostics_->compute(layers.as_const(), phi_, out);
    }

private:
    struct State {
        State() = default;
        explicit State(Index dim) : psi(dim, dim), u(dim, dim), v(dim, dim), sigma(dim) {}
        ColMatrix<T> psi, u, v;  // Ψ = U diag(σ) Vᵀ
        ColVector<T> sigma;
        bool factored = false;  // false: the state is the caller's layers
        bool broken = false;    // Ψ could not be factored: ℓ = +∞ (see the top of this file)
    };

    // The arena (made at first use): the factored step's six matrices, or the stepped layers,
    // product and scratch of an ordinary step, or the layers formed for diagnostics, or the
    // SVD's copy of Ψ, Vᵀ and workspace (decompose()): never two of them at once.
    static constexpr Index kFactoredMatrices = 6;
    T* arena() {
        if (arena_.empty()) arena_.resize(static_cast<std::size_t>(arena_size_));
        return arena_.data();
    }
    // Matrix k of the arena, d × d.
    T* slot(Index k) { return arena() + k * result_.dim * result_.dim; }
    Eigen::Map<ColMatrix<T>> matrix(T* data) const { return {data, result_.dim, result_.dim}; }

    // c = op(a)·op(b) for column-major n×n matrices: the row-major gemm computes cᵀ = op(b)ᵀ·op(a)ᵀ.
    void multiply(const T* a, bool trans_a, const T* b, bool trans_b, T* c) {
        products_.multiply(b, trans_b, a, trans_a, c, slot(kFactoredMatrices - 1));
    }

    // Θ'_{1:L} = U C (ΣC)^{L−1} Vᵀ from the factored state (see the top of this file), in the
    // arena's first five matrices (the sixth is the products' scratch).
    void factored_step(const State& state, ColMatrix<T>& out) {
        const Index depth = result_.depth;
        const T lr = params_.lr;
        T *c = slot(0), *x = slot(1), *work = slot(2), *power = slot(3), *spare = slot(4);
        multiply(phi_col_.data(), false, state.v.data(), false, work);  // Φ V
        multiply(state.u.data(), true, work, false, c);                 // Uᵀ Φ V
        auto c_matrix = matrix(c);
        c_matrix *= lr;  // C = D^{2−L} − η (Σ − Uᵀ Φ V)
        c_matrix.diagonal().array() += state.sigma.array().pow(T(2 - depth) / T(depth)) - lr * state.sigma.array();
        const T* tail = c;  // C (ΣC)^{L−1}
        if (depth > 1) {
            matrix(x) = c_matrix;
            matrix(x).array().colwise() *= state.sigma.array();  // ΣC
            const T* result = raise(x, depth - 1, power, spare);
            multiply(c, false, result, false, work);
            tail = work;
        }
        multiply(state.u.data(), false, tail, false, spare);  // (tail is c or work)
        multiply(spare, false, state.v.data(), true, out.data());
    }

    // x^n (n ≥ 1) by repeated squaring from the leading bit, in `power` and `spare` by turns;
    // returns the one that holds it.
    const T* raise(const T* x, Index n, T* power, T* spare) {
        int bit = 0;
        while ((n >> (bit + 1)) != 0) ++bit;
        matrix(power) = Eigen::Map<const ColMatrix<T>>(x, result_.dim, result_.dim);
        for (--bit; bit >= 0; --bit) {
            multiply(power, false, power, false, spare);
            std::swap(power, spare);
            if ((n >> bit) & 1) {
                multiply(power, false, x, false, spare);
                std::swap(power, spare);
            }
        }
        return power;
    }

    // Θ'_{1:L} of the caller's layers by a gradient sweep (evaluate() ran the forward half).
    // In the arena: the stepped layers, then the (row-major) product and a scratch matrix.
    void ordinary_step(ColMatrix<T>& out) {
        const T lr = params_.lr;
        const Index depth = result_.depth, dim = result_.dim;
        LayerStack<T> stepped{arena(), depth, dim};
        GradientSweep<T>& sweep = ordinary_->sweep;
        sweep.backward(result_.as_const(), [&](Index i, const GradientFactors<T>& gradient) {
            sweep.subtract_gradient(gradient, lr, result_.layer(i).data(), stepped.layer(i).data());
        });
        MatrixMap<T> product(slot(depth), dim, dim), scratch(slot(depth + 1), dim, dim);
        chain_product(stepped.as_const(), product, scratch, products_);
        out = product;
    }

    // The SVD of state.psi into the state (LAPACK's buffers in the arena); false if Ψ is
    // singular (σ_min = 0: the factored step's D^{2−L} would not exist) or σ is not finite.
    bool decompose(State& state) {
        factorizer_.decompose_lent(state.psi, state.u, state.sigma, state.v, arena());
        return state.sigma.allFinite() && state.sigma(state.sigma.size() - 1) > T(0);
    }

    // The layers of a factored state (advance() checked that they exist).
    void materialize(const State& state, LayerStack<T> out) {
        const FactorStatus status = factorizer_.factor_svd(state.u, state.sigma, state.v, out);
        if (status != FactorStatus::ok) {
            throw std::runtime_error("power projection: a checked product lost its balanced factorization");
        }
    }

    LayerStack<T> result_;
    ConstMatrixMap<T> phi_;
    ColMatrix<T> phi_col_;
    MethodParams<T> params_;
    ExecutionContext context_;
    Products<T> products_;
    Projector<T> projector_;
    BalancedFactorizer<T> factorizer_;
    std::optional<Diagnostics<T>> diagnostics_;
    // The work of an ordinary step (gradient sweep, chained product): only for a call that starts
    // from the caller's layers rather than from Ψ.
    struct Ordinary {
        Ordinary(Index depth, Index dim, const ExecutionContext& context) : sweep(depth, dim, context) {}
        GradientSweep<T> sweep;
    };
    std::optional<Ordinary> ordinary_;
    State states_[2];
    int current_ = 0;
    std::vector<T, Eigen::aligned_allocator<T>> arena_;  // see arena()
    Index arena_size_ = 0;
};

// Compiled in cpp/core/power_projection.cpp.
extern template class PowerProjectionStepper<double>;
extern template class PowerProjectionStepper<float>;

}  // namespace deeplinear
