"""Use cases: each joins the pure domain with the data-access modules; handlers call only these."""
