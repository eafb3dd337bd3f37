"""Texts of the views area (see ``stages.ground.catalogue``): code → (中文, English)."""

TEXTS: dict[str, tuple[str, str]] = {
    "views.unknown_item": ("未知事项：{item}", "unknown item {item!r}"),
    "views.unknown_item_see_status": ("未知事项：{item}（可用 plancycle status 查看）",
                                      "unknown item {item!r} (see `plancycle status`)"),
    "views.not_yours": ("该事项不属于{dept}", "this item is not {dept}'s"),
}
