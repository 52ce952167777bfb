//! The runtime's one error type: each variant has a status, a stable code and
//! a localized message. API paths answer `{"error":{"code","message"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::i18n::Lang;

/// Everything a storefront request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("invalid form: {0}")]
    InvalidForm(String),
    #[error("form posted from another site")]
    CrossSiteForm,
    #[error("lookup failed")]
    LookupFailed,
    #[error("shop not found")]
    ShopNotFound,
    #[error("shop closed")]
    ShopClosed,
    #[error("shop not open yet")]
    ShopNotOpenYet,
    #[error("product not found")]
    ProductNotFound,
    #[error("order not found")]
    OrderNotFound,
    #[error("payment not found")]
    PaymentNotFound,
    #[error("not found")]
    NotFound,
    #[error("out of stock ({available} left)")]
    OutOfStock { available: u64 },
    #[error("invalid email")]
    InvalidEmail,
    #[error("invalid quantity (allowed {min}..={max})")]
    InvalidQuantity { min: i64, max: i64 },
    #[error("invalid lookup password")]
    InvalidLookupPassword,
    #[error("required field {0:?} missing")]
    FieldMissing(String),
    #[error("field {0:?} invalid")]
    FieldInvalid(String),
    #[error("order refused by the shop's block list ({0})")]
    OrderRefused(&'static str),
    #[error("too many orders in {minutes} minutes")]
    TooManyOrders { minutes: i32 },
    #[error("proof-of-work challenge required")]
    ChallengeRequired { challenge: String, difficulty: u32 },
    #[error("coupon refused: {0:?}")]
    Coupon(kapu_core::store::coupons::CouponRejection),
    #[error("channel {0} not offered")]
    ChannelNotOffered(String),
    #[error("no payment channel")]
    NoPaymentChannel,
    /// Every channel that could take this payment failed; the order was released.
    #[error("all payment channels failed: {0}")]
    PaymentChannelsDown(String),
    #[error("sandbox disabled in live mode")]
    SandboxDisabled,
    #[error("notification rejected: {1}")]
    /// A payment notification refused, with the inspector's verdict.
    NotificationRejected(kapu_core::store::payment_notifications::Verdict, String),
    #[error("too many unpaid orders")]
    TooManyUnpaidOrders { limit: u32 },
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// A product sold from another shop's stock cannot take this order now.
    #[error("resale unavailable: {0}")]
    ResaleUnavailable(kapu_core::store::supply::SupplyRefusal),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sea_orm::DbErr> for StoreError {
    fn from(e: sea_orm::DbErr) -> Self {
        if kapu_core::db::is_unavailable(&e) {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Internal(e.to_string())
        }
    }
}

impl StoreError {
    pub fn status(&self) -> StatusCode {
        use StoreError::*;
        match self {
            InvalidJson(_) | InvalidForm(_) | NotificationRejected(..) => StatusCode::BAD_REQUEST,
            SandboxDisabled | CrossSiteForm | OrderRefused(_) => StatusCode::FORBIDDEN,
            TooManyOrders { .. } => StatusCode::TOO_MANY_REQUESTS,
            ChallengeRequired { .. } => StatusCode::PRECONDITION_REQUIRED,
            LookupFailed => StatusCode::UNPROCESSABLE_ENTITY,
            ShopNotFound | ProductNotFound | OrderNotFound | PaymentNotFound | NotFound => StatusCode::NOT_FOUND,
            OutOfStock { .. } => StatusCode::CONFLICT,
            ResaleUnavailable(r) => {
                use kapu_core::store::supply::SupplyRefusal::*;
                match r {
                    PerOrderCap(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    DailyCap { .. } => StatusCode::CONFLICT,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                }
            }
            InvalidEmail
            | InvalidQuantity { .. }
            | InvalidLookupPassword
            | Coupon(_)
            | ChannelNotOffered(_)
            | FieldMissing(_)
            | FieldInvalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            TooManyUnpaidOrders { .. } | RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ShopClosed | NoPaymentChannel | PaymentChannelsDown(_) | Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ShopNotOpenYet => StatusCode::FORBIDDEN,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use StoreError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            InvalidForm(_) => "invalid_form",
            CrossSiteForm => "cross_site_form",
            LookupFailed => "lookup_failed",
            ShopNotFound => "shop_not_found",
            ShopClosed => "shop_closed",
            ShopNotOpenYet => "shop_not_open_yet",
            ProductNotFound => "product_not_found",
            OrderNotFound => "order_not_found",
            PaymentNotFound => "payment_not_found",
            NotFound => "not_found",
            OutOfStock { .. } => "out_of_stock",
            InvalidEmail => "invalid_email",
            InvalidQuantity { .. } => "invalid_quantity",
            InvalidLookupPassword => "invalid_lookup_password",
            OrderRefused(_) => "order_refused",
            FieldMissing(_) => "field_missing",
            FieldInvalid(_) => "field_invalid",
            TooManyOrders { .. } => "too_many_orders",
            ChallengeRequired { .. } => "challenge_required",
            Coupon(r) => {
                use kapu_core::store::coupons::CouponRejection::*;
                match r {
                    Unknown => "coupon_not_found",
                    Expired => "coupon_expired",
                    UsedUp => "coupon_used_up",
                    WrongProduct => "coupon_not_for_product",
                }
            }
            ChannelNotOffered(_) => "channel_not_offered",
            NoPaymentChannel => "no_payment_channel",
            PaymentChannelsDown(_) => "payment_channels_unavailable",
            SandboxDisabled => "sandbox_disabled",
            NotificationRejected(..) => "notification_rejected",
            TooManyUnpaidOrders { .. } => "too_many_unpaid_orders",
            RateLimited { .. } => "rate_limited",
            ResaleUnavailable(r) => {
                use kapu_core::store::supply::SupplyRefusal::*;
                match r {
                    PerOrderCap(_) => "quantity_over_order_cap",
                    DailyCap { .. } => "daily_allowance_used",
                    _ => "temporarily_unavailable",
                }
            }
            Unavailable(_) => "service_unavailable",
            Internal(_) => "internal_error",
        }
    }

    /// What the buyer reads.
    pub fn message(&self, lang: Lang) -> String {
        use StoreError::*;
        let zh = lang == Lang::Zh;
        match self {
            InvalidJson(detail) => {
                if zh {
                    format!("请求格式不正确：{detail}")
                } else {
                    format!("The request is not valid JSON for this endpoint: {detail}")
                }
            }
            InvalidForm(detail) => {
                if zh {
                    format!("表单内容不正确：{detail}")
                } else {
                    format!("The form is incomplete or invalid: {detail}")
                }
            }
            CrossSiteForm => lang
                .pick(
                    "请在本店页面内提交表单：请刷新页面后重试。",
                    "Please submit the form from this shop's own page: reload it and try again.",
                )
                .into(),
            LookupFailed => {
                lang.pick("订单号或查询密码不正确。", "The order number or lookup password is not correct.").into()
            }
            ShopNotFound => lang
                .pick(
                    "此地址没有店铺，请检查网址是否正确。",
                    "There is no shop at this address. Check the link you followed.",
                )
                .into(),
            ShopClosed => lang
                .pick("本店暂时关闭，请稍后再来。", "This shop is temporarily closed. Please come back later.")
                .into(),
            ShopNotOpenYet => lang
                .pick(
                    "本店尚未开业（测试中），只有店主分享的预览链接可以访问。",
                    "This shop is not open yet (it is being tested): only the owner's preview link opens it.",
                )
                .into(),
            ProductNotFound => {
                lang.pick("商品不存在或已下架。", "This product does not exist or is no longer for sale.").into()
            }
            OrderNotFound => lang
                .pick("找不到该订单，请检查订单号和链接。", "No such order. Check the order number and the link.")
                .into(),
            PaymentNotFound => lang.pick("找不到该支付记录。", "No such payment.").into(),
            NotFound => lang.pick("页面不存在。", "This page does not exist.").into(),
            OutOfStock { available: 0 } => {
                lang.pick("库存不足，该商品已售罄。", "Out of stock: this product is sold out.").into()
            }
            OutOfStock { available } => {
                if zh {
                    format!("库存不足，仅剩 {available} 件。")
                } else {
                    format!("Only {available} left in stock.")
                }
            }
            InvalidEmail => lang
                .pick(
                    "邮箱地址无效，请检查后重试（卡密会发送到该邮箱）。",
                    "That email address is not valid; your keys are sent there, so please check it.",
                )
                .into(),
            InvalidQuantity { min, max } => {
                if zh {
                    format!("购买数量须在 {min} 到 {max} 之间。")
                } else {
                    format!("Quantity must be between {min} and {max}.")
                }
            }
            InvalidLookupPassword => {
                lang.pick("查询密码须为 4 到 64 个字符。", "The lookup password must be 4 to 64 characters.").into()
            }
            FieldMissing(label) => {
                if zh {
                    format!("请填写「{label}」。")
                } else {
                    format!("Please fill in \"{label}\".")
                }
            }
            FieldInvalid(label) => {
                if zh {
                    format!("「{label}」的格式不正确，请检查后重试。")
                } else {
                    format!("\"{label}\" is not in the expected format; please check it.")
                }
            }
            OrderRefused(_) => lang
                .pick(
                    "此订单无法提交。如有疑问请联系店主。",
                    "This order cannot be placed. Please contact the shop if you think this is a mistake.",
                )
                .into(),
            TooManyOrders { minutes } => {
                if zh {
                    format!("下单过于频繁，请 {minutes} 分钟后再试。")
                } else {
                    format!("Too many orders in a short time; please try again in {minutes} minutes.")
                }
            }
            ChallengeRequired { .. } => lang
                .pick(
                    "下单较频繁，需要完成一次安全验证：页面会自动完成（需启用 JavaScript），然后请再次提交。",
                    "Many orders came from here recently, so a quick security check is needed: the page solves it for you (JavaScript required), then submit again.",
                )
                .into(),
            Coupon(r) => {
                use kapu_core::store::coupons::CouponRejection::*;
                match r {
                    Unknown => lang.pick("优惠码不存在，请检查后重试。", "No such coupon code; please check it."),
                    Expired => lang.pick("该优惠码已过期。", "This coupon code has expired."),
                    UsedUp => lang.pick("该优惠码已被用完。", "This coupon code has been used up."),
                    WrongProduct => {
                        lang.pick("该优惠码不适用于此商品。", "This coupon code does not apply to this product.")
                    }
                }
                .into()
            }
            ChannelNotOffered(kind) => {
                if zh {
                    format!("本店不支持支付方式 “{kind}”。")
                } else {
                    format!("This shop does not offer the payment method \"{kind}\".")
                }
            }
            NoPaymentChannel => lang
                .pick(
                    "本店暂时无法收款，请稍后再试或联系店主。",
                    "This shop cannot take payments right now. Try again later or contact the shop.",
                )
                .into(),
            PaymentChannelsDown(_) => lang
                .pick(
                    "支付通道暂时不可用，请稍后重试或更换支付方式。",
                    "Payment is temporarily unavailable. Please try again later or choose another payment method.",
                )
                .into(),
            SandboxDisabled => lang
                .pick("本店已正式营业，测试支付不可用。", "This shop is live; sandbox payments are disabled.")
                .into(),
            NotificationRejected(..) => lang.pick("支付通知无效。", "The payment notification was rejected.").into(),
            TooManyUnpaidOrders { limit } => {
                if zh {
                    format!("您已有 {limit} 个未支付订单，请先支付或等待其过期后再下单。")
                } else {
                    format!("You already have {limit} unpaid orders. Pay one or let them expire before ordering again.")
                }
            }
            RateLimited { retry_after_secs } => {
                if zh {
                    format!("请求过于频繁，请 {retry_after_secs} 秒后再试。")
                } else {
                    format!("Too many requests. Please wait {retry_after_secs} s and try again.")
                }
            }
            ResaleUnavailable(r) => {
                use kapu_core::store::supply::SupplyRefusal::*;
                match r {
                    PerOrderCap(n) => {
                        if zh {
                            format!("该商品每单最多购买 {n} 件。")
                        } else {
                            format!("At most {n} of this product per order.")
                        }
                    }
                    DailyCap { left: 0, .. } => lang
                        .pick("该商品今日已售完，请明天再来。", "This product is sold out for today; please come back tomorrow.")
                        .into(),
                    DailyCap { left, .. } => {
                        if zh {
                            format!("该商品今日仅剩 {left} 件可购。")
                        } else {
                            format!("Only {left} of this product can still be bought today.")
                        }
                    }
                    _ => lang
                        .pick("该商品暂时无法购买，请稍后再试。", "This product is temporarily unavailable; please try again later.")
                        .into(),
                }
            }
            Unavailable(_) => lang
                .pick(
                    "服务暂时繁忙，请稍后再试，您的订单不会丢失。",
                    "The service is briefly unavailable. Please retry in a moment; no order is lost.",
                )
                .into(),
            Internal(_) => lang
                .pick(
                    "服务器出错了，我们已记录此问题，请稍后再试。",
                    "Something went wrong on our side. It has been logged; please try again shortly.",
                )
                .into(),
        }
    }

    /// Logs the error at the level it deserves (internal details only here, never to the buyer).
    pub(crate) fn log(&self) {
        match self {
            StoreError::Internal(detail) => tracing::error!(code = self.code(), %detail, "request failed"),
            StoreError::Unavailable(detail) | StoreError::PaymentChannelsDown(detail) => {
                tracing::warn!(code = self.code(), %detail, "request failed")
            }
            StoreError::NotificationRejected(_, detail) => {
                tracing::warn!(code = self.code(), %detail, "payment notification rejected")
            }
            _ => tracing::debug!(code = self.code(), "request refused"),
        }
    }

    /// The JSON error body.
    pub fn to_json_response(&self, lang: Lang) -> Response {
        self.log();
        let mut error = json!({"code": self.code(), "message": self.message(lang)});
        if let StoreError::ChallengeRequired { challenge, difficulty } = self {
            error["challenge"] = json!(challenge);
            error["difficulty"] = json!(difficulty);
        }
        let resp = (self.status(), Json(json!({ "error": error }))).into_response();
        self.with_headers(resp)
    }

    /// Adds the headers this error implies (`Retry-After` when rate limited), whatever the body.
    pub(crate) fn with_headers(&self, mut resp: Response) -> Response {
        if let StoreError::RateLimited { retry_after_secs } = self
            && let Ok(v) = retry_after_secs.to_string().parse()
        {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}

impl IntoResponse for StoreError {
    fn into_response(self) -> Response {
        self.to_json_response(Lang::current_or(Lang::Zh))
    }
}
