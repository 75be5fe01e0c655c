"""Deterministic demo data plans: a built-in vocabulary turned into tenants, catalogs and
content by a seeded RNG (pure; `rustok_search.demo_writer` writes the plans through the services).

The same seed and sizes always give the same plans, so benchmarks and tests can regenerate
the queries that match the data (`vocabulary()` is public for that reason).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from core_write.validate import slugify

ADJECTIVES = (
    "classic", "vintage", "modern", "rugged", "elegant", "compact", "lightweight", "premium",
    "organic", "handmade", "wireless", "waterproof", "ergonomic", "minimalist", "deluxe",
    "portable", "durable", "cozy", "sleek", "recycled", "heavy", "smart", "bold", "soft",
)
MATERIALS = (
    "leather", "cotton", "wool", "linen", "bamboo", "steel", "aluminium", "ceramic", "oak",
    "walnut", "glass", "silk", "denim", "canvas", "copper", "marble", "velvet", "titanium",
)
NOUNS = (
    "backpack", "jacket", "sneakers", "wallet", "lamp", "chair", "table", "mug", "kettle",
    "headphones", "speaker", "watch", "notebook", "blanket", "pillow", "scarf", "sweater",
    "boots", "bottle", "knife", "skillet", "teapot", "bicycle", "helmet", "tent", "keyboard",
    "monitor", "camera", "guitar", "umbrella", "candle", "vase", "rug", "desk", "shelf",
)
COLORS = ("black", "white", "red", "navy", "olive", "sand", "grey", "teal", "amber", "plum")
SIZES = ("XS", "S", "M", "L", "XL")
BRANDS = ("Nordvik", "Alder & Co", "Kestrel", "Maple Row", "Orbit", "Tallow", "Brightwater")
TOPICS = (
    "care guide", "buying guide", "behind the scenes", "season preview", "craftsmanship",
    "sustainability", "gift ideas", "how to choose", "repair tips", "our story", "travel",
)
SENTENCE_PARTS = (
    "built to last for years of daily use", "made from responsibly sourced materials",
    "designed in our studio and tested in the field", "easy to clean and simple to repair",
    "a favourite of our customers since the first batch", "finished by hand in small runs",
    "pairs well with the rest of the collection", "ships in plastic-free packaging",
    "covered by a two-year warranty", "light enough to take anywhere",
)
CATEGORY_TREE = {
    "Apparel": ("Jackets", "Knitwear", "Footwear", "Accessories"),
    "Home": ("Kitchen", "Lighting", "Furniture", "Textiles"),
    "Outdoor": ("Camping", "Cycling", "Travel"),
    "Electronics": ("Audio", "Computing", "Photo"),
}
CONTENT_CATEGORIES = {"Journal": ("Guides", "Stories", "News"), "Help": ("Shipping", "Returns")}
TAGS = ("new", "bestseller", "sale", "eco", "limited", "gift", "bundle", "classic", "staff-pick",
        "handmade", "winter", "summer")
CURRENCIES = ("EUR", "USD", "GBP")
LANGUAGES = ("english", "simple", "german")
THUMBNAIL_BASE = "https://images.example.com/demo/products"
"""Where the demo products' placeholder thumbnails point (example.com: nothing is served)."""


def vocabulary() -> tuple[str, ...]:
    """Every word a generated title can contain (for query generators)."""
    return ADJECTIVES + MATERIALS + NOUNS + COLORS


@dataclass(frozen=True)
class VariantPlan:
    title: str
    sku: str
    manage_inventory: bool
    allow_backorder: bool
    option_values: tuple[str, ...]
    prices: dict[str, int]
    stock: tuple[int, ...]  # per stock location of the tenant


@dataclass(frozen=True)
class ProductPlan:
    tenant: int
    title: str
    subtitle: str
    handle: str
    description: str
    status: str
    categories: tuple[str, ...]  # handles
    tags: tuple[str, ...]
    option_title: str
    variants: tuple[VariantPlan, ...]
    meta_title: str | None

    @property
    def thumbnail(self) -> str:
        """A deterministic placeholder image URL (from the handle: draws nothing from the
        RNG, so the rest of the plan is what it was before thumbnails)."""
        return f"{THUMBNAIL_BASE}/{self.handle}.jpg"


@dataclass(frozen=True)
class NodePlan:
    tenant: int
    index: int  # position among the tenant's nodes; comments point at an earlier one
    kind: str
    title: str | None
    slug: str | None
    excerpt: str | None
    body: str
    status: str
    category: str | None
    tags: tuple[str, ...]
    author: int
    parent: int | None
    meta_title: str | None


@dataclass(frozen=True)
class TenantPlan:
    slug: str
    name: str
    language: str
    authors: tuple[tuple[str, str], ...]  # (email, display name)
    locations: tuple[str, ...]
    products: list[ProductPlan] = field(default_factory=list)
    nodes: list[NodePlan] = field(default_factory=list)


def _sentences(rng: random.Random, count: int) -> str:
    return " ".join(
        f"{rng.choice(ADJECTIVES).capitalize()} {rng.choice(MATERIALS)} {rng.choice(NOUNS)}, "
        f"{rng.choice(SENTENCE_PARTS)}." for _ in range(count)
    )


def product_plan(rng: random.Random, tenant: int, number: int) -> ProductPlan:
    adjective, material, noun = rng.choice(ADJECTIVES), rng.choice(MATERIALS), rng.choice(NOUNS)
    title = f"{adjective.capitalize()} {material} {noun}"
    parent = rng.choice(sorted(CATEGORY_TREE))
    leaves = CATEGORY_TREE[parent]
    picked = {rng.choice(leaves), *rng.sample(leaves, rng.randint(0, 1))}
    categories = tuple(sorted(slugify(c) for c in picked))
    option_title = rng.choice(("Colour", "Size"))
    values = COLORS if option_title == "Colour" else SIZES
    variants = []
    currencies = CURRENCIES[: rng.randint(1, 3)]
    base = rng.randint(5, 500) * 100 - 1
    for position, value in enumerate(rng.sample(values, rng.randint(1, 5))):
        manage = rng.random() > 0.1
        variants.append(VariantPlan(
            title=f"{title} / {value}",
            sku=f"T{tenant}-P{number:07d}-{position}",
            manage_inventory=manage,
            allow_backorder=manage and rng.random() < 0.1,
            option_values=(value,),
            prices={cur: max(0, base + rng.randint(-5, 5) * 100 + i * 37)
                    for i, cur in enumerate(currencies)},
            stock=(rng.choice((0, 0, 3, 10, 25, 100)), rng.choice((0, 5, 40))),
        ))
    return ProductPlan(
        tenant=tenant, title=title,
        subtitle=f"by {rng.choice(BRANDS)} in {rng.choice(COLORS)}",
        handle=f"{slugify(title)}-{number}",
        description=f"{title}, {rng.choice(SENTENCE_PARTS)}. " + _sentences(rng, rng.randint(1, 3)),
        status="published" if rng.random() < 0.9 else "draft",
        categories=categories,
        tags=tuple(rng.sample(TAGS, rng.randint(0, 3))),
        option_title=option_title,
        variants=tuple(variants),
        meta_title=f"{title} | {rng.choice(BRANDS)}" if rng.random() < 0.5 else None,
    )


def node_plan(rng: random.Random, tenant: int, index: int, authors: int) -> NodePlan:
    kind = "comment" if index >= 3 and rng.random() < 0.4 else rng.choice(("post", "post", "page"))
    author = rng.randrange(authors)
    body = _sentences(rng, rng.randint(3, 8))
    if kind == "comment":
        return NodePlan(tenant, index, kind, None, None, None, body,
                        "published" if rng.random() < 0.95 else "draft", None, (), author,
                        rng.randrange(index), None)
    title = f"{rng.choice(TOPICS).capitalize()}: the {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    parent = rng.choice(sorted(CONTENT_CATEGORIES))
    return NodePlan(
        tenant, index, kind, title, f"{slugify(title)}-{index}", _sentences(rng, 1), body,
        "published" if rng.random() < 0.85 else "draft",
        slugify(rng.choice(CONTENT_CATEGORIES[parent])), tuple(rng.sample(TAGS, rng.randint(0, 2))),
        author, None, f"{title} | Journal" if rng.random() < 0.3 else None,
    )


def plan_demo(products: int, nodes: int, tenants: int, seed: int) -> list[TenantPlan]:
    """Split `products` and `nodes` over `tenants` and generate them all (pure)."""
    rng = random.Random(seed)
    plans = []
    for t in range(tenants):
        authors = tuple((f"author{i}@demo-{t}.example", f"{rng.choice(BRANDS)} Writer {i}")
                        for i in range(5))
        plans.append(TenantPlan(
            slug=f"demo-{t}", name=f"Demo Store {t}", language=LANGUAGES[t % len(LANGUAGES)],
            authors=authors, locations=("Main warehouse", "Shop floor"),
        ))
    for number in range(products):
        plans[number % tenants].products.append(product_plan(rng, number % tenants, number))
    for number in range(nodes):
        plan = plans[number % tenants]
        plan.nodes.append(node_plan(rng, number % tenants, len(plan.nodes), len(plan.authors)))
    return plans
