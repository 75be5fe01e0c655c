"""The ISO 4217 currency codes: the currencies a price may be in, every one of them searchable
(price fields in every engine) (pure). migrations/0016_currencies.sql holds the same list
as the `currencies` table that `commerce_prices.currency_code` references, so a price in any
other code is refused whoever writes it; a test keeps the two equal. Codes come and go
rarely: add one here and in a new migration together."""

from __future__ import annotations

ISO_4217: tuple[str, ...] = tuple("""
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP
    DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS
    VED VES VND VUV WST XAD XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA
    XXX YER ZAR ZMW ZWG ZWL
""".split())
"""The codes of ISO 4217 list one (2026: funds, precious metals and test codes included) and
those withdrawn since 2023 (ANG, BGN, CUC, SLL, ZWL), so prices written before stay valid."""
