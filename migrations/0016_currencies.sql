-- The ISO 4217 currency codes (core_write/currencies.py holds the same list; a test keeps
-- them equal). Every engine indexes a price field pair for each, so a price in one of them is
-- searchable everywhere, and commerce_prices refuses any other code, whoever writes the row.
-- NOT VALID: rows written before this migration are not checked (VALIDATE CONSTRAINT once
-- they are cleaned up).

CREATE TABLE currencies (
    code    CHAR(3) PRIMARY KEY
);

INSERT INTO currencies (code) VALUES
    ('AED'), ('AFN'), ('ALL'), ('AMD'), ('ANG'), ('AOA'), ('ARS'), ('AUD'), ('AWG'), ('AZN'),
    ('BAM'), ('BBD'), ('BDT'), ('BGN'), ('BHD'), ('BIF'), ('BMD'), ('BND'), ('BOB'), ('BOV'),
    ('BRL'), ('BSD'), ('BTN'), ('BWP'), ('BYN'), ('BZD'), ('CAD'), ('CDF'), ('CHE'), ('CHF'),
    ('CHW'), ('CLF'), ('CLP'), ('CNY'), ('COP'), ('COU'), ('CRC'), ('CUC'), ('CUP'), ('CVE'),
    ('CZK'), ('DJF'), ('DKK'), ('DOP'), ('DZD'), ('EGP'), ('ERN'), ('ETB'), ('EUR'), ('FJD'),
    ('FKP'), ('GBP'), ('GEL'), ('GHS'), ('GIP'), ('GMD'), ('GNF'), ('GTQ'), ('GYD'), ('HKD'),
    ('HNL'), ('HTG'), ('HUF'), ('IDR'), ('ILS'), ('INR'), ('IQD'), ('IRR'), ('ISK'), ('JMD'),
    ('JOD'), ('JPY'), ('KES'), ('KGS'), ('KHR'), ('KMF'), ('KPW'), ('KRW'), ('KWD'), ('KYD'),
    ('KZT'), ('LAK'), ('LBP'), ('LKR'), ('LRD'), ('LSL'), ('LYD'), ('MAD'), ('MDL'), ('MGA'),
    ('MKD'), ('MMK'), ('MNT'), ('MOP'), ('MRU'), ('MUR'), ('MVR'), ('MWK'), ('MXN'), ('MXV'),
    ('MYR'), ('MZN'), ('NAD'), ('NGN'), ('NIO'), ('NOK'), ('NPR'), ('NZD'), ('OMR'), ('PAB'),
    ('PEN'), ('PGK'), ('PHP'), ('PKR'), ('PLN'), ('PYG'), ('QAR'), ('RON'), ('RSD'), ('RUB'),
    ('RWF'), ('SAR'), ('SBD'), ('SCR'), ('SDG'), ('SEK'), ('SGD'), ('SHP'), ('SLE'), ('SLL'),
    ('SOS'), ('SRD'), ('SSP'), ('STN'), ('SVC'), ('SYP'), ('SZL'), ('THB'), ('TJS'), ('TMT'),
    ('TND'), ('TOP'), ('TRY'), ('TTD'), ('TWD'), ('TZS'), ('UAH'), ('UGX'), ('USD'), ('USN'),
    ('UYI'), ('UYU'), ('UYW'), ('UZS'), ('VED'), ('VES'), ('VND'), ('VUV'), ('WST'), ('XAD'), ('XAF'),
    ('XAG'), ('XAU'), ('XBA'), ('XBB'), ('XBC'), ('XBD'), ('XCD'), ('XCG'), ('XDR'), ('XOF'),
    ('XPD'), ('XPF'), ('XPT'), ('XSU'), ('XTS'), ('XUA'), ('XXX'), ('YER'), ('ZAR'), ('ZMW'),
    ('ZWG'), ('ZWL');

ALTER TABLE commerce_prices ADD CONSTRAINT commerce_prices_currency_fkey
    FOREIGN KEY (currency_code) REFERENCES currencies (code) NOT VALID;
