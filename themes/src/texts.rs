//! The theme's words in zh-CN and en.

const TEXTS: &[(&str, &str, &str)] = &[
    (
        "test_mode_banner",
        "测试模式 · TEST MODE：本店尚未正式营业，付款为模拟，不会扣款。",
        "TEST MODE: this shop is not live yet. Payments are simulated; no money moves.",
    ),
    // The banner on a phone: one short line.
    ("test_mode_short", "测试模式 TEST MODE · 付款为模拟", "TEST MODE · payments are simulated"),
    ("lookup_nav", "查询订单", "Find my order"),
    ("footer", "自动发货 · 付款后立即交付", "Instant automatic delivery after payment"),
    ("support", "客服", "Support"),
    ("sold_out", "已售罄", "Sold out"),
    ("sold_out_long", "已售罄，暂时无法购买。", "Sold out: not available right now."),
    ("stock", "库存", "In stock:"),
    ("no_products", "本店暂时没有商品。", "This shop has no products yet."),
    ("wholesale", "批发价", "Wholesale prices"),
    ("each", "件", "each"),
    ("unit_price", "单价", "Unit price"),
    ("checkout", "下单", "Checkout"),
    ("quantity", "购买数量", "Quantity"),
    ("email", "邮箱", "Email"),
    ("email_hint", "卡密将发送到此邮箱，请仔细核对。", "Your keys are sent to this address; check it carefully."),
    ("lookup_password", "查询密码", "Lookup password"),
    ("optional", "可选", "optional"),
    ("coupon", "优惠码", "Coupon code"),
    ("manual_delivery", "人工发货：付款后由店主处理", "Delivered by the shop after payment"),
    (
        "lookup_password_hint",
        "用于查询订单：凭订单号和此密码可随时查看卡密。",
        "Used to look up your order: order number plus this password shows your keys at any time.",
    ),
    ("payment_method", "支付方式", "Payment method"),
    ("buy_now", "立即购买", "Buy now"),
    ("back_home", "返回首页", "Back to the shop"),
    ("order", "订单", "Order"),
    ("product", "商品", "Product"),
    ("amount", "金额", "Amount"),
    ("expires_in", "剩余支付时间", "Time left to pay:"),
    ("pay", "去支付", "Pay now"),
    ("pay_again", "重新付款", "Pay again"),
    ("total", "合计", "Total"),
    (
        "pay_failed",
        "上次付款未成功（已取消或被拒绝），订单仍为您保留，请重新付款。",
        "Your last payment did not go through (cancelled or declined). The order is still held for you; please pay again.",
    ),
    ("your_keys", "您的卡密", "Your keys"),
    ("copy", "复制", "Copy"),
    ("copied", "已复制", "Copied"),
    ("status_pending", "待支付", "Awaiting payment"),
    ("status_delivered", "已发货", "Delivered"),
    ("status_expired", "已过期", "Expired"),
    ("status_needs_attention", "待店主处理", "Needs the shop's attention"),
    ("status_refunded", "已退款", "Refunded"),
    ("status_paid", "已付款，待发货", "Paid, awaiting delivery"),
    ("lookup_title", "查询订单", "Find my order"),
    ("lookup_by_password", "订单号 + 查询密码", "Order number + lookup password"),
    ("order_no", "订单号", "Order number"),
    ("lookup_submit", "查询", "Show my order"),
    ("lookup_by_email", "通过邮箱找回", "Find by email"),
    (
        "lookup_by_email_hint",
        "我们会把订单链接发送到下单时填写的邮箱；仅凭邮箱不会在此显示卡密。",
        "We email the order links to the address used at checkout; an email address alone never shows keys here.",
    ),
    ("lookup_send_link", "发送订单链接", "Email me my order links"),
    ("sandbox_title", "模拟支付（测试）", "Sandbox payment (test)"),
    (
        "sandbox_explain",
        "这是测试模式下的模拟收银台，不会产生任何真实扣款。选择支付结果：",
        "This is the test-mode sandbox checkout; no real money moves. Choose the outcome:",
    ),
    ("sandbox_pay", "模拟支付成功", "Simulate a successful payment"),
    ("sandbox_fail", "模拟支付失败", "Simulate a failed payment"),
    ("sandbox_already_paid", "该笔支付已完成。", "This payment is already complete."),
    ("view_order", "查看订单", "View order"),
    ("pay_qr_title", "扫码支付", "Scan to pay"),
    ("pay_qr_alt", "付款二维码", "Payment QR code"),
    (
        "pay_qr_explain",
        "请用支付应用扫描二维码完成付款，付款后卡密会显示在订单页并发送到您的邮箱。",
        "Scan the code with your payment app. Once paid, your keys appear on the order page and in your email.",
    ),
    ("sandbox_label", "模拟支付（测试）", "Sandbox (test)"),
    ("alipay_label", "支付宝", "Alipay"),
    ("wxpay_label", "微信支付", "WeChat Pay"),
    ("qqpay_label", "QQ 钱包", "QQ Wallet"),
    ("usdt_label", "USDT", "USDT"),
    ("card_label", "银行卡 / Card", "Card"),
];

/// The texts of a language (`zh-CN` or `en`) as a template value.
pub fn texts(lang: &str) -> minijinja::Value {
    let en = lang.starts_with("en");
    minijinja::Value::from_pairs(TEXTS.iter().map(|(k, zh, e)| (*k, if en { *e } else { *zh })))
}

/// One text (for code outside templates).
pub fn text(lang: &str, key: &str) -> &'static str {
    let en = lang.starts_with("en");
    TEXTS.iter().find(|(k, ..)| *k == key).map(|(_, zh, e)| if en { *e } else { *zh }).unwrap_or("")
}
