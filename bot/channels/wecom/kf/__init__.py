"""WeCom 微信客服 (kf): merchants outside the enterprise, chatting from their own WeChat."""
