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
# # Prepare the Iris training data
#
# The DVC `prepare` stage runs this file as a plain script (`python notebooks/...py`); open it
# as a notebook with Jupytext to explore the data. It:
#
# 1. loads the Iris data set shipped with scikit-learn (no download),
# 2. writes it with readable column names to `data/raw/iris.csv`,
# 3. splits it into stratified, seeded train and test tables in `data/prepared/`.
#
# Paths and the split come from `params.yaml`, so `dvc params diff` shows what changed.

# %%
from pathlib import Path

import pandas as pd
import yaml
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from pipeserve.project.params import project_root, read_section

ROOT = project_root(Path.cwd())
prepare = read_section(ROOT / "params.yaml", "prepare")
paths = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["paths"]

# %% [markdown]
# ## Load
# scikit-learn names the columns `sepal length (cm)` and so on; the API uses snake_case names,
# and the target becomes the species name rather than a number.

# %%
iris = load_iris(as_frame=True)
COLUMNS = {
    "sepal length (cm)": "sepal_length",
    "sepal width (cm)": "sepal_width",
    "petal length (cm)": "petal_length",
    "petal width (cm)": "petal_width",
}
raw = iris.frame.rename(columns=COLUMNS)
raw["species"] = raw.pop("target").map(dict(enumerate(iris.target_names)))
raw.describe()

# %%
raw["species"].value_counts()

# %% [markdown]
# ## Split
# Stratified, so each species keeps its share in both tables; seeded, so `dvc repro` gives the
# same split every time.

# %%
train, test = train_test_split(
    raw, test_size=prepare["test_size"], random_state=prepare["seed"], stratify=raw["species"]
)
pd.DataFrame({"train": train["species"].value_counts(), "test": test["species"].value_counts()})

# %% [markdown]
# ## Write

# %%
for key, frame in (("raw", raw), ("train", train), ("test", test)):
    path = ROOT / paths[key]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    print(f"{key}: {len(frame)} rows -> {paths[key]}")
