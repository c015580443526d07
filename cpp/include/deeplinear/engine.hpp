// A training run's compiled state between calls: the stepper of its method (with its work
// buffers, kept from call to call) behind one interface, so that a Trainer — or a C++ program —
// can run many steps, then look, edit and run again without reallocating or re-deciding.
// Defined in cpp/core/engine.cpp.
#pragma once

#include "common.hpp"
#include "execution.hpp"
#include "loop.hpp"
#include "methods.hpp"

#include <functional>
#include <memory>

namespace deeplinear {

// Polled about every 50 ms of work by a running loop; true stops the run ("interrupted").
using Interrupt = std::function<bool()>;

template <class T>
class Engine {
public:
    Engine() = default;
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;
    virtual ~Engine() = default;

    // The shape of the layers it steps, (depth L, d); {0, 0} for an engine whose state is not
    // a stack of layers (the spectral one) or that does not say (a caller's own engine).
    struct Shape {
        Index depth = 0;
        Index dim = 0;
    };
    virtual Shape shape() const { return {}; }

    // run_loop from the caller's state (the layers the engine was made for), which the call
    // leaves holding its last completed state; `result` says how far it got, also when it
    // throws. history.diagnostic_count > 0 records diagnostics.
    virtual void run(const LoopOptions& options, History& history, const Interrupt& interrupted,
                     LoopResult& result) = 0;

    // ℓ of the caller's current state.
    virtual double loss() = 0;

    // The diagnostics of diagnostics.hpp at the caller's current state into out[0 .. kDiagnosticCount).
    virtual void diagnose(double* out) = 0;

    // The caller's state was changed from outside: drop whatever the engine derived from it.
    virtual void state_changed() {}

    // The step size η of the steps to come.
    virtual void set_lr(double lr) = 0;

    // Power projection keeps the projected product Ψ whose balanced factors the layers are
    // (power_projection.hpp). product(out): writes Ψ (d×d, row-major) and returns true when the
    // current layers are its factors. resume(psi): continue from Ψ (a checkpoint's); false if Ψ
    // cannot be factored. Other methods have no such state.
    virtual bool product(T* /*out*/) { return false; }
    virtual bool resume(const T* /*psi*/) { return false; }
};

// The engine of `params.method` on the layers (caller-owned, live for the engine's lifetime)
// towards phi (caller-owned, likewise); every call runs as `context` says (threads, kernels).
// std::invalid_argument for a shape below 1 (or whose L·d² does not fit an Index), no layers or
// target, an unknown method, or a parameter out of its range: lr finite > 0, gamma finite > 0
// (power projection) or ≥ 0 (step-and-project's start), psi finite > 0, kappa finite ≥ 0.
template <class T>
std::unique_ptr<Engine<T>> make_engine(LayerStack<T> layers, const T* phi, const MethodParams<T>& params,
                                       const ExecutionContext& context);

// The exact spectral dynamics of gradient descent from I for symmetric Φ = U diag(μ) Uᵀ
// (spectral.hpp): the state is a[0 .. dim), the layer eigenvalues; mu is caller-owned.
template <class T>
std::unique_ptr<Engine<T>> make_spectral_engine(T* a, const T* mu, Index dim, Index depth, T lr);

}  // namespace deeplinear
