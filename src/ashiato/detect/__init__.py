"""Detection: Sigma rules (:mod:`.sigma`), IOC lists (:mod:`.ioc`) and the hunt that
stores their hits in the case (:mod:`.hunt`)."""
