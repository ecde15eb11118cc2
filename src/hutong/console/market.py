"""The article's market figures exactly as it gives them, each with its source sentence
(../shared/seed/article-zh-hant.txt), for the console's market page."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    key: str
    label_zh: str
    label_en: str
    points: tuple[tuple[str, float], ...]  # (period, value)
    unit: str
    source: str


FIGURES = (
    Figure(
        "douyin_gmv_growth",
        "抖音电商 GMV 同比增速",
        "Douyin e-commerce GMV growth, year on year",
        (("2022", 80.0), ("2023", 320.0), ("过去一年 / the last year", 46.0)),
        "%",
        "據抖音電商總裁魏雯雯披露,過去一年,抖音電商 GMV(成交額)同比增長 46%,對照 2023 年、"
        "2022 年,抖音電商披露的 GMV 增速分別為320%、80%",
    ),
    Figure(
        "douyin_shelf_growth",
        "抖音货架场 GMV 同比增速",
        "Douyin shelf-scene GMV growth, year on year",
        (("2022", 140.0), ("过去一年 / the last year", 86.0)),
        "%",
        "去年發力的貨架場 GMV 同比增長 86%,較 2022 年140%的增速明顯放緩。",
    ),
    Figure(
        "kuaishou_q2",
        "快手电商 GMV 二季度同比增速",
        "Kuaishou e-commerce GMV growth, Q2, year on year",
        (("2024 Q2", 15.0),),
        "%",
        "快手財報顯示,今年二季度快手電商GMV同比增速僅為15%,相較前兩年“腰斬”。",
    ),
    Figure(
        "618_total",
        "618 综合电商与直播平台累计销售额",
        "618 sales across e-commerce and live platforms",
        (("2024 618", 7428.0),),
        "亿元 / 100M yuan (−7%)",
        "以今年 618 為例,星圖資料顯示,綜合電商平台、直播平台累積銷售額為 7428 億元,累計下降7%。",
    ),
    Figure(
        "yuhuitongxing",
        "与辉同行陕西专场",
        "与辉同行's Shaanxi session",
        (("观看人次 views (万)", 8740.0), ("订单 orders (万)", 510.0), ("商品 products", 400.0)),
        "",
        "其中與輝同行陝西專場直播累計觀看人次達8740萬,帶貨近400個商品,訂單量破510萬。",
    ),
)
