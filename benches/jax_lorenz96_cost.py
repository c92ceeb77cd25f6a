"""The 4D-Var cost of `fourdvar bench --cost`, in JAX, for a side-by-side comparison.

J(u) = ½‖u‖² + ½ Σ_k Σ_i (y_ki − x_k,i)²,  x_0 = x_b + u  (B = I, R = I), Lorenz-96
(F = 8, dt = 0.05, RK4), every other site observed every second step — the case
`fourdvar bench --cost N:STEPS` times. Reports the median of 5 batches of
`jit(value_and_grad(J))` in float64 on the CPU, and a JSON line per case.

    python3 benches/jax_lorenz96_cost.py 40:20 1000:100 100000:50
"""
import json
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

F, DT = 8.0, 0.05


def field(x):
    return (jnp.roll(x, -1) - jnp.roll(x, 2)) * jnp.roll(x, 1) - x + F


def step(x):
    k1 = field(x)
    k2 = field(x + 0.5 * DT * k1)
    k3 = field(x + 0.5 * DT * k2)
    k4 = field(x + DT * k3)
    return x + DT / 6.0 * (k1 + 2.0 * (k2 + k3) + k4)


def case(n, steps, min_time=0.5):
    rng = np.random.default_rng(1)
    x = jnp.asarray(2.3 + 3.6 * rng.standard_normal(n))
    spin = jax.jit(lambda x: jax.lax.fori_loop(0, 200, lambda _, x: step(x), x))
    xb = spin(x)
    truth = [xb]
    for _ in range(steps):
        truth.append(step(truth[-1]))
    truth = jnp.stack(truth)
    observed = (jnp.arange(steps + 1) % 2 == 0) & (jnp.arange(steps + 1) > 0)
    mask = observed[:, None] & (jnp.arange(n)[None, :] % 2 == 0)
    y = truth + 0.5

    def cost(u):
        def body(x, yk_mask):
            yk, mk = yk_mask
            xn = step(x)
            return xn, 0.5 * jnp.sum(jnp.where(mk, (yk - xn) ** 2, 0.0))

        _, jo = jax.lax.scan(body, xb + u, (y[1:], mask[1:]))
        return 0.5 * jnp.sum(u * u) + jnp.sum(jo)

    f = jax.jit(jax.value_and_grad(cost))
    u = jnp.asarray(rng.standard_normal(n))
    jax.block_until_ready(f(u))
    calls = 1
    while True:
        t = time.perf_counter()
        for _ in range(calls):
            jax.block_until_ready(f(u))
        if time.perf_counter() - t > min_time / 5:
            break
        calls *= 2
    batches = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(calls):
            jax.block_until_ready(f(u))
        batches.append((time.perf_counter() - t) / calls)
    return float(np.median(batches))


if __name__ == "__main__":
    for spec in sys.argv[1:] or ["40:20", "1000:100", "100000:50"]:
        n, steps = map(int, spec.split(":"))
        seconds = case(n, steps)
        print(json.dumps({"n": n, "steps": steps, "jax_value_and_gradient": seconds}))
