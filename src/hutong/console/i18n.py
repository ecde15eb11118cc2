"""The console's two languages: Chinese and English, chosen by the browser's Accept-Language
and switched with ``?lang=`` (remembered in a cookie)."""

from __future__ import annotations

from fastapi import Request

LANGS = ("zh", "en")
COOKIE = "hutong_lang"

MESSAGES: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "hutong": ("互通", "hutong"),
    "signin": ("登录", "Sign in"),
    "signout": ("退出", "Sign out"),
    "api_key": ("API 密钥", "API key"),
    "signin_hint": (
        "用租户的 API 密钥登录；只看到该租户的世界，运营方看到全部。",
        "Sign in with a tenant's API key: you see that tenant's world; an operator sees all.",
    ),
    "key_required": ("请填写 API 密钥", "Enter an API key"),
    "key_unknown": ("这个密钥无效或已吊销", "This key is unknown or revoked"),
    "overview": ("总览", "Overview"),
    "live": ("直播", "Live"),
    "trust": ("主播信任", "Streamer trust"),
    "market": ("市场", "Market"),
    "gmv": ("成交额", "GMV"),
    "orders": ("订单", "Orders"),
    "paid_orders": ("已支付订单", "Paid orders"),
    "clicks": ("有效点击", "Valid clicks"),
    "conversion": ("转化率", "Conversion"),
    "growth": ("环比", "Growth"),
    "refunded": ("退款", "Refunded"),
    "day": ("日期", "Day"),
    "platform": ("平台", "Platform"),
    "by_platform_day": ("按货架平台和日期", "By shelf platform and day"),
    "no_data": ("暂无数据", "No data yet"),
    "overview_scope": (
        "总览按货架平台统计，供运营方和货架平台查看。",
        "The overview counts by shelf platform, for the operator and shelf platforms.",
    ),
    "sessions": ("直播场次", "Live sessions"),
    "session": ("场次", "Session"),
    "streamer": ("主播", "Streamer"),
    "state": ("状态", "State"),
    "starts_at": ("开播", "Starts"),
    "views": ("观看人次", "Views"),
    "current_viewers": ("当前在线", "Watching now"),
    "peak_viewers": ("峰值在线", "Peak viewers"),
    "refunds": ("退款笔数", "Refunds"),
    "likes": ("点赞", "Likes"),
    "per_minute": ("每分钟", "Per minute"),
    "concurrent": ("在线人数", "Concurrent viewers"),
    "report": ("场次报告", "Session report"),
    "top_products": ("热销商品", "Top products"),
    "product": ("商品", "Product"),
    "share": ("占比", "Share"),
    "net_gmv": ("净成交额", "Net GMV"),
    "average_order": ("客单价", "Average order"),
    "updating": ("实时更新中", "Updating live"),
    "ranking": ("信任加权排行", "Ranking weighted by trust"),
    "score": ("信任分", "Trust score"),
    "weighted_gmv": ("加权成交额", "Weighted GMV"),
    "not_enough_data": ("数据不足", "Not enough data"),
    "not_scored": ("未评分", "Not scored"),
    "explanation": ("扣分明细", "How the score was made"),
    "factor": ("因素", "Factor"),
    "count": ("数量", "Count"),
    "rate": ("比率", "Rate"),
    "deduction": ("扣分", "Deduction"),
    "history": ("历史", "History"),
    "as_of": ("截至", "As of"),
    "rule": ("规则", "Rule"),
    "penalties": ("处罚", "Penalties"),
    "points": ("分值", "Points"),
    "reason": ("原因", "Reason"),
    "flags": ("风险标记", "Fraud flags"),
    "alerts": ("预警", "Alerts"),
    "article_figures": ("文章中的数字", "The article's figures"),
    "source": ("原文", "Source"),
    "measured": ("互通测得", "Measured by hutong"),
    "factor_refund": ("退款率", "Refunds per order"),
    "factor_return": ("退货率", "Returns per order"),
    "factor_complaint": ("投诉率", "Complaints per order"),
    "factor_negative_review": ("差评率", "Negative reviews per order"),
    "factor_quality_incident": ("质量事故率", "Quality incidents per order"),
    "factor_penalties": ("平台处罚分", "Platform penalty points"),
    "factor_fraud_flags": ("风险标记", "Open fraud flags"),
    "language": ("English", "中文"),
    "traffic": ("流量", "Traffic"),
    "placements": ("广告位", "Placements"),
    "campaigns": ("投放计划", "Campaigns"),
    "links": ("跳转链接", "Links"),
    "policies": ("外链政策时间线", "Link-policy timeline"),
    "surface": ("位置", "Surface"),
    "pricing": ("计价", "Pricing"),
    "price": ("价格", "Price"),
    "name": ("名称", "Name"),
    "target": ("目标平台", "Target"),
    "billing": ("结算方式", "Billing"),
    "budget": ("预算", "Budget"),
    "window": ("归因窗口", "Window"),
    "active": ("启用", "Active"),
    "code": ("短码", "Code"),
    "modes": ("允许方式", "Allowed"),
    "valid_from": ("生效", "From"),
    "valid_to": ("失效", "Until"),
    "date_assumed": ("日期为推定", "date assumed"),
    "order": ("订单", "Order"),
    "created_at": ("下单时间", "Placed"),
    "total": ("金额", "Total"),
    "organic": ("自然流量", "organic"),
    "walk": ("订单全程", "The order's walk"),
    "jump": ("跳转与归因", "Jump and credit"),
    "states": ("状态流转", "States"),
    "payments": ("支付", "Payments"),
    "notices": ("支付通知", "Provider notifications"),
    "parcels": ("包裹与物流", "Parcels and tracking"),
    "refund_list": ("退款", "Refunds"),
    "provider": ("支付渠道", "Provider"),
    "carrier": ("承运商", "Carrier"),
    "waybill": ("运单号", "Waybill"),
    "amount": ("金额", "Amount"),
    "received": ("收到", "Received"),
    "outcome": ("处理结果", "Outcome"),
    "when": ("时间", "When"),
    "cause": ("原因", "Cause"),
    "from_state": ("从", "From"),
    "to_state": ("到", "To"),
    "where": ("地点", "Where"),
    "attribution": ("归因", "Attribution"),
    "settlement": ("结算", "Settlement"),
    "models_side_by_side": ("各模型并列", "Models side by side"),
    "by": ("按", "By"),
    "run": ("归因运行", "Run"),
    "touchpoints": ("触点", "Touchpoints"),
    "statement": ("对账单", "Statement"),
    "period": ("账期", "Period"),
    "opening": ("期初余额", "Opening balance"),
    "closing": ("期末余额", "Closing balance"),
    "net": ("本期净额", "Net for the period"),
    "account": ("科目", "Account"),
    "kind": ("类型", "Kind"),
    "download": ("下载", "Download"),
    "refund_form": ("退款", "Refund"),
    "amount_yuan": ("金额（元）", "Amount (yuan)"),
    "do_refund": ("退款", "Refund"),
    "carrier_rule": ("选择承运商的规则", "How orders choose a carrier"),
    "mode": ("方式", "Mode"),
    "mode_fixed": ("固定", "fixed"),
    "mode_cheapest": ("最便宜", "cheapest"),
    "mode_fastest": ("最快", "fastest"),
    "mode_preference": ("按顺序优先", "by preference"),
    "ship_from": ("发货地", "Ships from"),
    "save": ("保存", "Save"),
    "new_campaign": ("新建投放计划和链接", "A new campaign and its link"),
    "placement": ("广告位", "Placement"),
    "price_hint": ("单价（元）或佣金比例（%）", "Price (yuan) or commission rate (%)"),
    "budget_yuan": ("预算（元）", "Budget (yuan)"),
    "landing": ("落地页网址", "Landing page URL"),
    "create": ("创建", "Create"),
    "complaints": ("售后申请", "After-sale requests"),
    "approve": ("同意", "Approve"),
    "reject": ("拒绝", "Reject"),
    "note": ("备注", "Note"),
    "change_policy": ("修改外链政策", "Change a link policy"),
    "source_platform": ("来源平台", "Source platform"),
    "any": ("全部", "any"),
}


def pick_lang(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(COOKIE)
    if asked in LANGS:
        return asked
    accept = request.headers.get("accept-language", "").lower()
    ranked = []
    for part in accept.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((weight, tag))
    for _, tag in sorted(ranked, reverse=True):
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"


def translator(lang: str) -> dict[str, str]:
    index = LANGS.index(lang)
    return {key: pair[index] for key, pair in MESSAGES.items()}
