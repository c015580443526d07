// Per-state diagnostics of a trajectory, for the theory of Sec. 3–5 (dl.theory.diagnostics, TrainResult.diagnostics):
//   loss            ℓ = ½‖Θ_{1:L} − Φ‖_F²
//   radius          maxᵢ ‖Θ_i − I‖₂                      (R(t) of Theorem 1, before the max over s ≤ t)
//   min_singular    minᵢ σ_min(Θ_i)                      (1 − a of Lemma 2; ≥ γ^{1/L} in Theorem 3)
//   max_singular    maxᵢ σ_max(Θ_i)                      (1 + z of Lemma 3)
//   grad_norm       ‖∇ℓ‖ = (Σᵢ ‖G_i‖_F²)^{1/2}           (Lemma 1)
//   lemma2_ratio    ‖∇ℓ‖² / (4 ℓ L (1 − a)^{2L}), 1 − a = min(min_singular, 1) (the lemma has
//                   a ≥ 0): Lemma 2 as the paper states it, ≥ ½ by the corrected bound below
//                   (NaN when ℓ = 0). With the paper's ℓ = ½‖E‖² that statement is off by a factor 2:
//                   for L = 1, Θ = I, Φ = 0 the ratio is ½. What holds is
//   lemma2_corrected_ratio  ‖∇ℓ‖² / (2 ℓ L σ^{2(L−1)}) ≥ 1, since ‖G_i‖_F ≥ σ^{L−1} ‖E‖_F for
//                   every i (each G_i is E between products of L − 1 layers) and ‖E‖² = 2ℓ.
//   margin          λ_min((Θ_{1:L} + Θ_{1:L}ᵀ)/2)        (Def. 1; ≥ γ along power projection)
//   balancedness    maxᵢ ‖Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ‖_F   (0 for balanced factors, Def. 3)
#pragma once

#include "common.hpp"
#include "decompositions.hpp"
#include "execution.hpp"
#include "gradient.hpp"
#include "projections.hpp"

namespace deeplinear {

inline constexpr int kDiagnosticCount = 9;
inline constexpr const char* kDiagnosticNames[kDiagnosticCount] = {
    "loss",   "radius",      "min_singular", "max_singular", "grad_norm", "lemma2_ratio", "lemma2_corrected_ratio",
    "margin", "balancedness"};

// compute() is out of line (cpp/core/diagnostics.cpp).
template <class T>
class Diagnostics {
public:
    // The gradient sweep's products run as `context` says (see execution.hpp).
    Diagnostics(Index depth, Index dim, const ExecutionContext& context);

    void compute(LayerStack<const T> layers, ConstMatrixMap<T> phi, double* out);

private:
    GradientSweep<T> sweep_;
    Projector<T> projector_;
    Svd<T> svd_;
    ColMatrix<T> work_;
    Matrix<T> gram_, product_, gradient_;
};

extern template class Diagnostics<double>;
extern template class Diagnostics<float>;

}  // namespace deeplinear
