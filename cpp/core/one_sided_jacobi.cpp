// Hestenes' one-sided Jacobi SVD (decompositions.hpp), compiled once per scalar type.
//
// Each rotation makes two columns of W (= A·V) orthogonal, the same rotation applied to V's
// columns. The pairs come in the round-robin order of a tournament: each round is d/2 disjoint
// pairs, whose rotation angles do not depend on one another, so that the processor overlaps
// their divisions and square roots (in the cyclic order each angle waits for the last one:
// latency-bound, 1.6 times slower at d = 8). A sweep is every pair once; the sweeps stop when
// one rotates nothing: every pair has |w_pᵀw_q| ≤ tol·‖w_p‖‖w_q‖, tol = √d·ε (LAPACK's gesvj),
// or is below an absolute floor at the level of A's rounding (see compute()), or after
// kMaxSweeps (gesvj's 30). The columns are scaled by a power of two first (exact), so that no
// squared norm overflows or underflows whatever A's scale; a diagonal A is its own W.
#include <deeplinear/decompositions.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace deeplinear {

namespace {

constexpr int kMaxSweeps = 30;

// x·y in a fixed order: eight partial sums (one 512-bit vector of doubles), then a tree.
template <class T>
T dot(const T* x, const T* y, Index n) {
    constexpr Index kParts = 8;
    T part[kParts] = {};
    Index i = 0;
    for (; i + kParts <= n; i += kParts) {
        for (Index k = 0; k < kParts; ++k) part[k] += x[i + k] * y[i + k];
    }
    for (Index k = 0; i < n; ++i, ++k) part[k] += x[i] * y[i];
    return ((part[0] + part[4]) + (part[2] + part[6])) + ((part[1] + part[5]) + (part[3] + part[7]));
}

// (x, y) ← (c·x − s·y, s·x + c·y)
template <class T>
void rotate(T* __restrict x, T* __restrict y, T c, T s, Index n) {
    for (Index i = 0; i < n; ++i) {
        const T a = x[i], b = y[i];
        x[i] = c * a - s * b;
        y[i] = s * a + c * b;
    }
}

// The tangent and cosine of the rotation that zeroes γ = w_pᵀw_q, the smaller angle (|θ| ≤ π/4):
// ζ = (β − α)/(2γ), t = sign(ζ)/(|ζ| + √(1 + ζ²)), c = 1/√(1 + t²); t = 0 (c = 1) where
// γ² ≤ tol²·αβ or γ² ≤ floor2·max(α, β).
template <class T>
bool angles(const T* __restrict alpha, const T* __restrict beta, const T* __restrict gram, T* __restrict tangent,
            T* __restrict cosine, T tol2, T floor2, Index count) {
    const auto rotates = [&](Index k) {
        const T square = gram[k] * gram[k];
        return square > tol2 * (alpha[k] * beta[k]) && square > floor2 * std::max(alpha[k], beta[k]);
    };
    // The test first, and the angles only for a round that rotates (most rounds of the last
    // sweep, and every round of an A whose columns are orthogonal already, rotate nothing).
    Index apart = 0;
    for (Index k = 0; k < count; ++k) apart += rotates(k);
    if (apart == 0) return false;
    for (Index k = 0; k < count; ++k) {
        const T zeta = (beta[k] - alpha[k]) / (T(2) * gram[k]);
        const T size = std::abs(zeta);
        // 1/(|ζ| + √(1 + ζ²)), as (1/|ζ|)/(1 + √(1 + 1/ζ²)) above 1 so that ζ² cannot overflow
        const T inverse = T(1) / size;
        const T t = std::copysign(size > T(1) ? inverse / (T(1) + std::sqrt(T(1) + inverse * inverse))
                                              : T(1) / (size + std::sqrt(T(1) + size * size)),
                                  zeta);
        const T rotation = rotates(k) ? t : T(0);
        tangent[k] = rotation;
        cosine[k] = T(1) / std::sqrt(T(1) + rotation * rotation);
    }
    return true;
}

template <class T>
bool is_diagonal(const ColMatrix<T>& a) {
    for (Index j = 0; j < a.cols(); ++j) {
        for (Index i = 0; i < a.rows(); ++i) {
            if (i != j && a(i, j) != T(0)) return false;
        }
    }
    return true;
}

}  // namespace

template <class T>
OneSidedJacobi<T>::OneSidedJacobi(Index dim)
    : dim_(dim), w_(dim, dim), v_(dim, dim), sigma_(dim), norms_(dim), gram_(dim / 2), alpha_(dim / 2), beta_(dim / 2),
      cosine_(dim / 2), tangent_(dim / 2) {
    // The circle method: players 0 … m − 1 (m even; player d is a bye when d is odd), 0 fixed and
    // the others turning one place a round; m − 1 rounds of d/2 pairs (rounded down) meet every
    // pair once.
    const Index m = dim + (dim & 1);
    for (Index round = 0; round + 1 < m; ++round) {
        for (Index k = 0; k < m / 2; ++k) {
            const Index p = k == 0 ? 0 : 1 + (round + k - 1) % (m - 1);
            const Index q = 1 + (round + m - 2 - k) % (m - 1);
            if (p < dim && q < dim) {
                pairs_.push_back(std::min(p, q));
                pairs_.push_back(std::max(p, q));
            }
        }
    }
}

template <class T>
bool OneSidedJacobi<T>::compute(const ColMatrix<T>& a, bool with_vectors, T scale_of_result) {
    const Index d = dim_, per_round = d / 2;
    sweeps_ = 0;
    v_.setIdentity();
    if (!a.allFinite()) return false;
    if (is_diagonal(a)) {  // orthogonal columns already (0 among them): W = A, V = I, exactly
        w_ = a;
        sigma_ = a.diagonal().cwiseAbs();
        return true;
    }
    // Beyond 2^±(max_exponent/2) the scaling below, W or σ could leave the range of T (an
    // entry of 10³⁰⁸ has σ beyond it, a subnormal one a scale of 2¹⁰³⁰), and a nonzero entry
    // more than 2^(max_exponent/2) below the largest would have its squares underflow (a column
    // of 10⁻²⁰⁰ beside one of 1 got σ = 0, and a graded pair was never rotated): the caller's
    // Svd, whose two-sided Jacobi scales by the largest entry itself, takes such a matrix.
    constexpr int kLimit = std::numeric_limits<T>::max_exponent / 2;
    T largest = T(0), smallest = std::numeric_limits<T>::infinity();  // of the nonzero entries
    for (Index i = 0; i < a.size(); ++i) {
        const T entry = std::abs(a.data()[i]);
        largest = std::max(largest, entry);
        if (entry != T(0)) smallest = std::min(smallest, entry);
    }
    if (!(largest >= std::ldexp(T(1), -kLimit) && largest <= std::ldexp(T(1), kLimit) &&
          smallest >= std::ldexp(largest, -kLimit))) {
        return false;
    }
    int exponent = 0;
    std::frexp(largest, &exponent);  // largest = f·2^exponent, f in [½, 1)
    w_ = a * std::ldexp(T(1), -exponent);
    T* w = w_.data();
    T* v = v_.data();
    for (Index j = 0; j < d; ++j) norms_(j) = dot(w + j * d, w + j * d, d);
    const T epsilon = std::numeric_limits<T>::epsilon();
    const T tol2 = static_cast<T>(d) * epsilon * epsilon;  // tol²
    // Also |γ| ≤ ε·s·max(‖w_p‖, ‖w_q‖) is rounding for a result that needs W to ε·s, with
    // s = min(‖W‖_F, scale_of_result) (‖W‖_F, which rotations keep, is at most √d·σ_max): w_q's
    // part along w_p is then below ε·s, and the pair's Gram block [α γ; γ β] has singular values
    // within about ε·s of √α and √β (by γ/(2√α) where α ≈ β, by γ²/(α − β) where they are
    // apart). Columns at the level of A's rounding need not be made orthogonal to their own
    // precision: that took two to four sweeps more where A is singular, for nothing that a
    // result to ε·‖A‖ can see (Eigen's two-sided Jacobi has a like absolute floor, relative to
    // its largest diagonal entry). A result much smaller than A needs more: the ψ-ball projection
    // of an A far outside the ball rescales columns of W to norm ψ, and needs them orthogonal
    // to ε·ψ (with s = ‖W‖_F it left the ball by 10⁴ ε·ψ at ‖A − I‖ = 10⁸ ψ).
    const T wanted = scale_of_result * std::ldexp(T(1), -exponent);                // in W's units (or inf)
    const T floor2 = epsilon * epsilon * std::min(norms_.sum(), wanted * wanted);  // (ε·s)²
    const Index* pairs = pairs_.data();
    const Index rounds = per_round == 0 ? 0 : static_cast<Index>(pairs_.size()) / (2 * per_round);
    bool rotated = true;
    while (rotated && sweeps_ < kMaxSweeps) {
        rotated = false;
        ++sweeps_;
        for (Index round = 0; round < rounds; ++round) {
            const Index* pair = pairs + 2 * per_round * round;
            for (Index k = 0; k < per_round; ++k) gram_(k) = dot(w + pair[2 * k] * d, w + pair[2 * k + 1] * d, d);
            for (Index k = 0; k < per_round; ++k) {
                alpha_(k) = norms_(pair[2 * k]);
                beta_(k) = norms_(pair[2 * k + 1]);
            }
            // The round's angles side by side, without branches (so that they vectorize): a pair
            // that the stopping rule calls orthogonal gets t = 0 (no rotation), whatever ζ its γ
            // gives; a round without a rotation computes none.
            if (!angles(alpha_.data(), beta_.data(), gram_.data(), tangent_.data(), cosine_.data(), tol2, floor2,
                        per_round)) {
                continue;
            }
            for (Index k = 0; k < per_round; ++k) {
                const T t = tangent_(k);
                if (t == T(0)) continue;
                rotated = true;
                const Index p = pair[2 * k], q = pair[2 * k + 1];
                const T c = cosine_(k), s = c * t;
                rotate(w + p * d, w + q * d, c, s, d);
                if (with_vectors) rotate(v + p * d, v + q * d, c, s, d);
                // The new squared norms α − tγ and β + tγ, where the one that shrinks is recomputed
                // once it has lost half: the subtraction would leave only rounding of a column
                // that the rotation makes (nearly) zero, and the test above would then rotate it
                // for ever (gesvj recomputes too).
                for (const auto& [j, change] : {std::pair{p, -t * gram_(k)}, std::pair{q, t * gram_(k)}}) {
                    const T updated = norms_(j) + change;
                    norms_(j) = updated > T(0.5) * norms_(j) ? updated : dot(w + j * d, w + j * d, d);
                }
            }
        }
    }
    const T scale = std::ldexp(T(1), exponent);
    for (Index j = 0; j < d; ++j) sigma_(j) = std::sqrt(dot(w + j * d, w + j * d, d)) * scale;
    w_ *= scale;
    return true;
}

template class OneSidedJacobi<double>;
template class OneSidedJacobi<float>;

}  // namespace deeplinear
