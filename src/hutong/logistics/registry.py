"""The carriers and platforms hutong speaks, by name. Adding one is a module and a line here."""

from __future__ import annotations

from hutong.logistics.carriers import cainiao, jd, sf, zto
from hutong.logistics.platforms import jd as jd_platform
from hutong.logistics.platforms import pinduoduo, taobao
from hutong.logistics.platforms.protocol import ShippingCall
from hutong.logistics.protocol import Carrier

CARRIERS: dict[str, Carrier] = {
    jd.CARRIER.name: jd.CARRIER,
    cainiao.CARRIER.name: cainiao.CARRIER,
    sf.CARRIER.name: sf.CARRIER,
    zto.CARRIER.name: zto.CARRIER,
}
PLATFORMS: dict[str, ShippingCall] = {
    taobao.CALL.platform_id: taobao.CALL,
    jd_platform.CALL.platform_id: jd_platform.CALL,
    pinduoduo.CALL.platform_id: pinduoduo.CALL,
}
