//! What a storefront request is for, so that under pressure browsing gives
//! way first, buying next, a buyer's own order last, and money never:
//!
//! | class | examples | per-client limit | shop-wide cap |
//! |---|---|---|---|
//! | `Money` | payment notifications, provider webhooks | no | no |
//! | `OwnOrder` | order page and API with its token, pay pages, assets | yes | no |
//! | `Checkout` | placing an order | yes | yes, with a reserve browsing cannot use |
//! | `Browsing` | home, product pages, product API, lookup | yes | yes |
//!
//! Money requests are verified (attempt id, then signature) before any work,
//! which bounds what a flood of forged ones can cost.

use axum::http::{Method, Uri};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestClass {
    Money,
    OwnOrder,
    Checkout,
    Browsing,
}

impl RequestClass {
    pub fn of(method: &Method, uri: &Uri) -> Self {
        let path = uri.path();
        if is_money_path(path) {
            return Self::Money;
        }
        let with_token = uri.query().is_some_and(|q| q.split('&').any(|kv| kv.starts_with("token=")));
        let order_view = (path.starts_with("/orders/") || is_order_api_path(path)) && with_token;
        let payment_page = path.starts_with("/pay/");
        // The theme's assets and the shop's stylesheet and logo: needed to
        // show the order page, cheap, and cached by browsers.
        let asset = path.starts_with("/assets/") || path.starts_with("/logo/") || path == "/shop.css";
        if order_view || payment_page || asset {
            Self::OwnOrder
        } else if *method == Method::POST && (path == "/api/v1/orders" || path == "/checkout") {
            Self::Checkout
        } else {
            Self::Browsing
        }
    }

    /// Whether the shop's plan cap applies.
    pub fn under_shop_cap(self) -> bool {
        matches!(self, Self::Checkout | Self::Browsing)
    }
}

/// Payment notifications of every channel and the shop's Stripe webhook.
pub fn is_money_path(path: &str) -> bool {
    (path.starts_with("/api/v1/payments/") && path.ends_with("/notify")) || path == "/api/v1/channels/stripe/webhook"
}

/// `/api/v1/orders/{order_no}`.
pub fn is_order_api_path(path: &str) -> bool {
    path.strip_prefix("/api/v1/orders/").is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(method: Method, uri: &str) -> RequestClass {
        RequestClass::of(&method, &uri.parse().expect("uri"))
    }

    #[test]
    fn money_is_told_from_buying_and_browsing() {
        use RequestClass::*;
        assert_eq!(class(Method::POST, "/api/v1/payments/p1/notify"), Money);
        assert_eq!(class(Method::GET, "/api/v1/payments/p1/notify?out_trade_no=1"), Money);
        assert_eq!(class(Method::POST, "/api/v1/channels/stripe/webhook"), Money);
        assert_eq!(class(Method::GET, "/orders/2026113000001?token=abc"), OwnOrder);
        assert_eq!(class(Method::GET, "/api/v1/orders/2026113000001?lang=en&token=abc"), OwnOrder);
        assert_eq!(class(Method::POST, "/pay/sandbox/p1"), OwnOrder);
        assert_eq!(class(Method::GET, "/assets/classic.0f3a.css"), OwnOrder);
        assert_eq!(class(Method::POST, "/api/v1/orders"), Checkout);
        assert_eq!(class(Method::POST, "/checkout"), Checkout);
        // Without its token an order URL is a guess, not the buyer's own order.
        assert_eq!(class(Method::GET, "/orders/2026113000001"), Browsing);
        assert_eq!(class(Method::GET, "/orders/2026113000001?mytoken=abc"), Browsing);
        assert_eq!(class(Method::GET, "/api/v1/orders"), Browsing);
        assert_eq!(class(Method::GET, "/"), Browsing);
        assert_eq!(class(Method::GET, "/api/v1/products"), Browsing);
        assert_eq!(class(Method::POST, "/lookup"), Browsing);
        // A path that only looks like a notification is not one.
        assert_eq!(class(Method::POST, "/api/v1/payments/p1/notify/extra"), Browsing);
    }

    #[test]
    fn only_buying_and_browsing_count_against_the_shop_cap() {
        assert!(!RequestClass::Money.under_shop_cap());
        assert!(!RequestClass::OwnOrder.under_shop_cap());
        assert!(RequestClass::Checkout.under_shop_cap());
        assert!(RequestClass::Browsing.under_shop_cap());
    }
}
