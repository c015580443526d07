// gd and penalty steps (methods.hpp) for networks of d ≤ 12 on whole-sweep kernels
// (cpp/kernels/fixed_kernel.inc): d fixed at compile time, every matrix of a sweep in registers,
// one kernel call per sweep instead of one per product. Same interface and the same results, bit
// for bit, as DenseStepper, whose products follow the same arithmetic contract. Defined in
// cpp/kernels/fixed_stepper.cpp.
#pragma once

#include <optional>
#include <vector>

#include "common.hpp"
#include "diagnostics.hpp"
#include "execution.hpp"
#include "methods.hpp"

namespace deeplinear {

template <class T>
class FixedStepper {
public:
    // method: gd or penalty; layers.dim ≤ 12 (std::invalid_argument otherwise).
    FixedStepper(LayerStack<T> layers, ConstMatrixMap<T> phi, const MethodParams<T>& params,
                 const ExecutionContext& context);

    // Starts a run (or a look) from the caller's layers: finish() left them current.
    void begin() {
        current_ = result_;
        next_ = spare_.view();
    }
    T evaluate();
    void advance();
    void revert();
    // Leaves the current state in the caller's layers (and current again, as after begin()).
    void finish();
    void diagnose(double* out);
    // The step size of the steps to come (the penalty's decay and pull follow it).
    void set_lr(T lr);

private:
    using Forward = T (*)(const T*, Index, const T*, T*, T*);
    using Backward = void (*)(const T*, Index, const T*, const T*, const T*, bool, T*, T*);

    LayerStack<T> result_;
    OwnedStack<T> spare_;
    LayerStack<T> current_, next_;
    ConstMatrixMap<T> phi_;
    ExecutionContext context_;
    Forward forward_;
    Backward backward_;
    bool penalty_;
    T kappa_;
    T params_[3];  // lr, decay = 1 − lr·κ, pull = lr·κ
    std::vector<T, Eigen::aligned_allocator<T>> prefix_t_, residual_, work_;
    std::optional<Diagnostics<T>> diagnostics_;
};

extern template class FixedStepper<double>;
extern template class FixedStepper<float>;

}  // namespace deeplinear
