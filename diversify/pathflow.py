"""A material's hindsight recovery LP solved exactly as a min-cost flow on a path.

The recovery LP of one material knowing its whole future (SPEC §8; years t = 0..T-1):

    min  Σ_t  zc_t z_t + hc_t I_t + pc_t u_t
    s.t. I_{t-1} + z_t + u_t - I_t - e_t = r_t       (I_{-1} = 0, the initial stock in r_0)
         0 <= z_t <= Z_t,  0 <= I_t <= M,  u_t, e_t >= 0

is a flow on the path of years: year t has a free source (the surplus -r_t where r_t < 0,
thrown away at no cost where unused), spot (capacity Z_t, zc_t a tonne) and shortfall
(unbounded, pc_t a tonne), a demand max(r_t, 0), and stock arcs t -> t+1 of capacity M
at hc_t a tonne. A tonne from year s to year t costs c_s + H_t - H_s with H the summed
holding costs, so the cost depends on which sources give how much, and every arc's load
is a prefix sum: years served in order, each from its cheapest source the stock arcs can
still carry to it (successive shortest paths; the residual graph has no cheaper path,
as nothing flows past the year being served), is optimal; at equal cost a tonne bought or kept
goes before a tonne short. `tests/test_risks.py` checks it against HiGHS on random cases.

Compiled by numba (a few µs a case, against 44 µs for HiGHS's warm LP, which the
stress test ran 140,000 times on the large benchmark's plan).
"""

from __future__ import annotations

import numpy as np
from numba import njit

EMPTY_T = 1e-12  # t: a source, a demand or an arc's room below this is spent (rounding)


def _compiled(fn):
    """numba's njit, its machine code cached on disk (beside this module, else in the
    user's cache folder) where one can be written; where none can (a read-only install
    and home: a cluster's container, say) numba refuses at import ("no locator
    available"), so it is then compiled afresh in each process (2.6 s) instead."""
    try:
        return njit(cache=True)(fn)
    except RuntimeError:
        return njit(fn)


@_compiled
def _case(r, z_cap, z_cost, hold, pen, room, stock, left, price):  # pragma: no cover - numba
    years = r.shape[0]
    for t in range(years):
        stock[t] = 0.0
        left[t, 0] = -r[t] if r[t] < 0 else 0.0  # the surplus, free
        left[t, 1] = z_cap[t]
        left[t, 2] = np.inf
        price[t, 0] = 0.0
        price[t, 1] = z_cost[t]
        price[t, 2] = pen[t]
    cost, short = 0.0, 0.0
    for t in range(years):
        need = r[t] if r[t] > 0 else 0.0
        while need > EMPTY_T:
            best, best_s, best_k, best_room = np.inf, -1, -1, 0.0
            carry, through = np.inf, 0.0  # room on the arcs s..t-1, their holding cost
            for s in range(t, -1, -1):
                if s < t:
                    carry = min(carry, room - stock[s])
                    through += hold[s]
                    if carry <= EMPTY_T:
                        break
                for k in range(3):
                    c = price[s, k] + through
                    # at a tie, a tonne bought or kept before a tonne short
                    if left[s, k] > EMPTY_T and (c < best or (c == best and best_k == 2 and k < 2)):
                        best, best_s, best_k, best_room = c, s, k, carry
            take = min(need, left[best_s, best_k], best_room)
            need -= take
            left[best_s, best_k] -= take
            for a in range(best_s, t):
                stock[a] += take
            cost += take * best
            if best_k == 2:
                short += take
    return cost, short


@_compiled
def _cases(rhs, z_upper, z_cost, hold, pen, room):  # pragma: no cover - numba
    n, years = rhs.shape
    cost, short = np.zeros(n), np.zeros(n)
    stock = np.zeros(years)
    left, price = np.zeros((years, 3)), np.zeros((years, 3))
    for i in range(n):
        cost[i], short[i] = _case(
            rhs[i], z_upper[i], z_cost[i], hold, pen, room, stock, left, price
        )
    return cost, short


def hindsight_flows(
    rhs: np.ndarray,
    z_upper: np.ndarray,
    z_cost: np.ndarray,
    holding: np.ndarray,
    penalty: np.ndarray,
    max_stock: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal recovery cost and tonnes short of each case (rows of `rhs`, `z_upper`,
    `z_cost`); `holding` and `penalty` per year, in USD a tonne (discounted)."""
    f = np.ascontiguousarray
    return _cases(
        f(rhs, dtype=float),
        f(z_upper, dtype=float),
        f(z_cost, dtype=float),
        f(holding, dtype=float),
        f(penalty, dtype=float),
        float(max_stock),
    )
