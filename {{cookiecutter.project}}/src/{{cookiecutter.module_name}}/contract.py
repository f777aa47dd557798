"""The data contract: every table the reports read, written once.

Validation (``data.validate``), the data docs (``python -m <module> contract``) and the sample
generator (``sample``) all read these definitions, so they cannot drift apart.
Types are logical: ``string``, ``int``, ``float``, ``bool``, ``timestamp``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    description: str
    required: bool = True
    non_negative: bool = False
    unique: bool = False
    allowed: tuple[str, ...] | None = None
    value_range: tuple[float, float] | None = None
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    required: bool = True
    references: tuple[tuple[str, str, str], ...] = field(default=())  # (column, table, column)
    no_future: tuple[str, ...] = field(default=())  # timestamp columns that must be in the past

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


DEVICES = ("desktop", "mobile", "tablet")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "customers",
            "One row per customer account.",
            (
                Column(
                    "customer_id",
                    "string",
                    "Stable customer id (hashed, never an email).",
                    unique=True,
                ),
                Column("signed_up_at", "timestamp", "When the account was created (UTC)."),
                Column("country", "string", "Country code.", required=False, nullable=True),
                Column(
                    "acquisition_channel",
                    "string",
                    "Channel that brought the customer.",
                    required=False,
                    nullable=True,
                ),
            ),
            no_future=("signed_up_at",),
        ),
        Table(
            "orders",
            "One row per order. Revenue is net of discounts, in the shop currency.",
            (
                Column("order_id", "string", "Order id.", unique=True),
                Column("customer_id", "string", "Who ordered (a customers.customer_id)."),
                Column("ordered_at", "timestamp", "When the order was placed (UTC)."),
                Column("revenue", "float", "Net order value after discounts.", non_negative=True),
                Column(
                    "discount",
                    "float",
                    "Discount given on the order.",
                    required=False,
                    non_negative=True,
                ),
                Column(
                    "is_refunded", "bool", "The order was refunded (kept, flagged).", required=False
                ),
                Column(
                    "channel",
                    "string",
                    "Sales channel (web, app, marketplace).",
                    required=False,
                    nullable=True,
                ),
                Column(
                    "device", "string", "Device of the purchase.", required=False, nullable=True
                ),
                Column(
                    "category",
                    "string",
                    "Main product category of the order.",
                    required=False,
                    nullable=True,
                ),
            ),
            references=(("customer_id", "customers", "customer_id"),),
            no_future=("ordered_at",),
        ),
        Table(
            "order_lines",
            "Optional: one row per product in an order.",
            (
                Column("order_id", "string", "An orders.order_id."),
                Column("sku", "string", "A products.sku."),
                Column("quantity", "int", "Units bought.", non_negative=True),
                Column("unit_price", "float", "Price paid per unit.", non_negative=True),
            ),
            required=False,
            references=(("order_id", "orders", "order_id"),),
        ),
        Table(
            "sessions",
            "One row per visit, with the furthest funnel step reached.",
            (
                Column("session_id", "string", "Session id.", unique=True),
                Column("visitor_id", "string", "Visitor (equals customer_id when logged in)."),
                Column(
                    "customer_id",
                    "string",
                    "Known customer, if any.",
                    required=False,
                    nullable=True,
                ),
                Column("started_at", "timestamp", "Session start (UTC)."),
                Column("device", "string", "Device.", allowed=DEVICES),
                Column("source", "string", "Traffic source (organic, paid, email, ...)."),
                Column("viewed_product", "bool", "Reached a product page."),
                Column("added_to_cart", "bool", "Added something to the cart."),
                Column("started_checkout", "bool", "Started checkout."),
                Column("purchased", "bool", "Completed a purchase."),
            ),
            required=False,
            no_future=("started_at",),
        ),
        Table(
            "assignments",
            "Experiment assignments: which unit saw which variant.",
            (
                Column("experiment_id", "string", "Experiment name."),
                Column("unit_id", "string", "Randomisation unit (a customers.customer_id)."),
                Column("variant", "string", "Variant seen, e.g. control / treatment."),
                Column("assigned_at", "timestamp", "First exposure (UTC)."),
            ),
            required=False,
            no_future=("assigned_at",),
        ),
        Table(
            "survey_responses",
            "Survey answers: NPS, Van Westendorp prices and Likert items (likert_* columns).",
            (
                Column("response_id", "string", "Response id.", unique=True),
                Column("responded_at", "timestamp", "When answered (UTC)."),
                Column(
                    "segment",
                    "string",
                    "Respondent segment for cuts.",
                    required=False,
                    nullable=True,
                ),
                Column(
                    "nps",
                    "int",
                    "Likelihood to recommend, 0-10.",
                    value_range=(0, 10),
                    nullable=True,
                ),
                Column(
                    "vw_too_cheap",
                    "float",
                    "Price so low quality is doubted.",
                    required=False,
                    non_negative=True,
                    nullable=True,
                ),
                Column(
                    "vw_cheap",
                    "float",
                    "Price that is a bargain.",
                    required=False,
                    non_negative=True,
                    nullable=True,
                ),
                Column(
                    "vw_expensive",
                    "float",
                    "Price that starts to feel expensive.",
                    required=False,
                    non_negative=True,
                    nullable=True,
                ),
                Column(
                    "vw_too_expensive",
                    "float",
                    "Price too high to consider.",
                    required=False,
                    non_negative=True,
                    nullable=True,
                ),
            ),
            required=False,
            no_future=("responded_at",),
        ),
        Table(
            "products",
            "The catalogue.",
            (
                Column("sku", "string", "Product id.", unique=True),
                Column("name", "string", "Product name.", required=False, nullable=True),
                Column("category", "string", "Category."),
                Column("price", "float", "Current list price.", non_negative=True),
                Column(
                    "cost", "float", "Unit cost.", required=False, non_negative=True, nullable=True
                ),
            ),
            required=False,
        ),
        Table(
            "competitor_prices",
            "Observed competitor prices for our SKUs.",
            (
                Column("sku", "string", "A products.sku."),
                Column("competitor", "string", "Competitor name."),
                Column("price", "float", "Observed price.", non_negative=True),
                Column("observed_at", "timestamp", "When observed (UTC)."),
            ),
            required=False,
            no_future=("observed_at",),
        ),
        Table(
            "traffic",
            "Optional: daily visits by device and traffic source with the sessions reaching each "
            "funnel step (an analytics export such as GA4's). The weekly review reads it for "
            "sessions and conversion; without it the review counts the sessions table.",
            (
                Column("date", "timestamp", "Day of the visits (UTC)."),
                Column("device", "string", "Device.", allowed=DEVICES),
                Column("source", "string", "Traffic source (organic, paid_search, email, ...)."),
                Column("country", "string", "Country code.", required=False, nullable=True),
                Column("sessions", "int", "Visits.", non_negative=True),
                Column(
                    "product_views", "int", "Visits that reached a product page.", non_negative=True
                ),
                Column("carts", "int", "Visits that added to the cart.", non_negative=True),
                Column("checkouts", "int", "Visits that started checkout.", non_negative=True),
                Column("purchases", "int", "Visits that ended in an order.", non_negative=True),
            ),
            required=False,
            no_future=("date",),
        ),
        Table(
            "marketing_spend",
            "Optional: marketing spend by day and channel, for CAC, LTV:CAC and payback. Channel "
            "names match customers.acquisition_channel; spend on existing buyers (e-mail, say) is "
            "named in the review's retention_channels parameter.",
            (
                Column("date", "timestamp", "Day of the spend (UTC)."),
                Column("channel", "string", "Marketing channel (paid_search, social, email, ...)."),
                Column("spend", "float", "Spend in the shop currency.", non_negative=True),
            ),
            required=False,
            no_future=("date",),
        ),
        Table(
            "fulfilment",
            "Optional: when each order shipped and arrived, and the delivery promised.",
            (
                Column("order_id", "string", "An orders.order_id.", unique=True),
                Column(
                    "shipped_at", "timestamp", "When it left the warehouse (UTC).", nullable=True
                ),
                Column("delivered_at", "timestamp", "When it arrived (UTC).", nullable=True),
                Column(
                    "promised_at",
                    "timestamp",
                    "Latest delivery promised to the customer (UTC).",
                    required=False,
                    nullable=True,
                ),
            ),
            required=False,
            references=(("order_id", "orders", "order_id"),),
        ),
        Table(
            "support_contacts",
            "Optional: customer-service contacts (tickets, chats, calls).",
            (
                Column("contact_id", "string", "Contact id.", unique=True),
                Column("contacted_at", "timestamp", "When the customer got in touch (UTC)."),
                Column(
                    "order_id",
                    "string",
                    "The order it is about, if any.",
                    required=False,
                    nullable=True,
                ),
                Column("reason", "string", "Why they got in touch.", required=False, nullable=True),
            ),
            required=False,
            no_future=("contacted_at",),
        ),
        Table(
            "decision_log",
            "Optional: launches reviewed before, for prioritisation. The project keeps its own "
            "log in data/decision_log.csv (each post-launch review adds a row; add launches "
            "made elsewhere by hand); a decision_log table here is read as well.",
            (
                Column("review_id", "string", "Id of the review or launch.", unique=True),
                Column("decided_on", "timestamp", "Date of the review's verdict."),
                Column("hypothesis", "string", "What the change was meant to do.", nullable=True),
                Column("primary_metric", "string", "Metric the verdict rests on."),
                Column(
                    "predicted_effect",
                    "float",
                    "Relative effect expected before launch (0.05 = +5%).",
                    nullable=True,
                ),
                Column("measured_effect", "float", "Relative effect measured.", nullable=True),
                Column("measured_low", "float", "Lower end of its interval.", nullable=True),
                Column("measured_high", "float", "Upper end of its interval.", nullable=True),
                Column("verdict", "string", "The review's verdict (ship, roll_back, ...)."),
            ),
            required=False,
            no_future=("decided_on",),
        ),
    )
}

LIKERT_PREFIX = "likert_"  # survey columns named likert_<item> hold 1-5 answers

# A table the importer can make from another when the export has none, marked as derived in
# its file so a real one replaces it: customers from orders, one row per customer id of the
# orders, signed up at the first order (an export of orders carries no account dates).
DERIVED_FROM = {"customers": "orders"}
DERIVED_CUSTOMERS = "one row per customer id of the orders, signed up at their first order"
