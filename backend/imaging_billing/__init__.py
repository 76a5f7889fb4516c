"""imaging-billing: prepaid billing and entitlements for a cloud medical-imaging platform."""
