"""Recipes: typed YAML that chains the stages (model, data, SFT, eval, length control, report); `hermes4 run`."""

from hermes4.recipe.config import STAGES, Recipe, RecipeError, parse_recipe, read_recipe_file
from hermes4.recipe.resolve import ResolvedRecipe, resolve_recipe

__all__ = [
    "STAGES",
    "Recipe",
    "RecipeError",
    "ResolvedRecipe",
    "parse_recipe",
    "read_recipe_file",
    "resolve_recipe",
]
