"""The entities table: tenants, users, projects, API keys and sessions, one partition per tenant.

One module per aggregate; reads return domain values or the typed records declared beside them.

Keys (pk / sk):
  TENANT#<tid>        / TENANT                 the tenant
  TENANT#<tid>        / USER#<uid>             a user of the tenant
  TENANT#<tid>        / PROJECT#<pid>          a project
  TENANT#<tid>        / KEY#<pid>#<kid>        an API key's metadata (listing)
  EMAIL#<email>       / LOGIN                  login lookup: user, tenant and password hash
  APIKEY#<digest>     / APIKEY                 authorizer lookup by keyed hash, one GetItem
  REFRESH#<hash>      / REFRESH                a refresh token (TTL ``expires_at``)
  FAMILY#<fid>        / FAMILY                 a login's session family: every refresh descends from it
  REVOKED#<jti>       / REVOKED                a revoked access token, until it would have expired (TTL)
  TENANTS             / TENANT#<tid>           the platform's tenant directory (admin listing, paginated)
  TENANT#<tid>        / EXPORT#<pid>#<eid>     an export job: status, progress checkpoint (TTL ``expires_at``)
  TENANT#<tid>        / FORECAST#<pid>         a project's latest forecast (its outlook, as JSON)
  TENANT#<tid>        / BUDGET#<bid>           a budget (``project_id`` empty for a tenant-wide one)
  TENANT#<tid>        / ALERT#<alert id>       a fired alert, written once (alert id = budget#period#basis#percent)
  SPEND#<bid>         / <period label>         a budget's spend in a period as the stream counts it (TTL)
  OUTBOX              / <tid>#<alert id>       an alert with deliveries still to make
Every read of tenant data goes through a key that starts with the caller's tenant id, so a request
cannot reach another tenant's items by guessing ids.
"""

from apimeter.dal.entities import (
    alerts,
    budgets,
    exports,
    forecasts,
    holds,
    keys,
    projects,
    sessions,
    tenants,
    users,
)

__all__ = ["alerts", "budgets", "exports", "forecasts", "holds", "keys", "projects", "sessions", "tenants", "users"]
